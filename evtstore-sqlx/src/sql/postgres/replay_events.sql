-- An aggregate for folding when it keeps no snapshot (replay.sql without the snapshot part):
-- the events after version $3, as replay.sql returns them (kind 1). A range of the
-- (stream, aggregate_id, version) index, already in version order, with no union, snapshot
-- lookup or merge to plan and run.
SELECT 1::bigint AS "kind", e."version"::bigint AS "version", e."position", e."event" AS "body"
FROM "{events}" AS e
WHERE e."stream" = $1 AND e."aggregate_id" = $2 AND e."version" > $3::bigint
ORDER BY e."version"
