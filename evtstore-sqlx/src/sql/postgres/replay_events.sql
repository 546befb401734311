-- An aggregate for folding when it keeps no snapshot (replay.sql without the snapshot part):
-- the events after version $3, as replay.sql returns them but without the kind column (every
-- row is an event; see `ReplayColumns::EventsOnly`). A range of the
-- (stream, aggregate_id, version) index, already in version order, with no union, snapshot
-- lookup or merge to plan and run.
SELECT e."version"::bigint AS "version", e."position", e."event"
FROM "{events}" AS e
WHERE e."stream" = $1 AND e."aggregate_id" = $2 AND e."version" > $3::bigint
ORDER BY e."version"
