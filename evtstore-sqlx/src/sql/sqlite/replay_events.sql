-- An aggregate for folding when it keeps no snapshot (replay.sql without the snapshot part):
-- the events after version ?3, as replay.sql returns them (kind 1). A range of the
-- (stream, aggregate_id, version) index, already in version order, with no union to merge and
-- no snapshot lookup.
SELECT 1 AS "kind", "version", "position", "event" AS "body"
FROM "{events}"
WHERE "stream" = ?1 AND "aggregate_id" = ?2 AND "version" > ?3
ORDER BY "version"
