-- An aggregate for folding when it keeps no snapshot (replay.sql without the snapshot part):
-- the events after version ?3, as replay.sql returns them but without the kind column (every
-- row is an event; see `ReplayColumns::EventsOnly`). A range of the
-- (stream, aggregate_id, version) index, already in version order, with no union to merge and
-- no snapshot lookup.
SELECT "version", "position", "event"
FROM "{events}"
WHERE "stream" = ?1 AND "aggregate_id" = ?2 AND "version" > ?3
ORDER BY "version"
