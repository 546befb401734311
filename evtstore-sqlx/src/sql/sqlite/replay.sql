-- An aggregate for folding, in one statement: the snapshot stored under tag ?4 when it is newer
-- than version ?3 (kind 0; a NULL tag matches none), then the events after that snapshot, or
-- after ?3 when there is none (kind 1), by version. (From the start ?3 is the lowest
-- integer, so that rows with a version below 1 are read and refused.) The snapshot's version is below every
-- event's, so it comes first; the (stream, aggregate_id, version) index gives the events in
-- order and SQLite merges the two parts. Only what the fold needs is sent.
SELECT 0 AS "kind", "version", NULL AS "position", "state" AS "body"
FROM "{snapshots}"
WHERE "stream" = ?1 AND "aggregate_id" = ?2 AND "tag" = ?4 AND "version" > ?3
UNION ALL
SELECT 1, "version", "position", "event"
FROM "{events}"
WHERE "stream" = ?1 AND "aggregate_id" = ?2
  AND "version" > max(?3, COALESCE((
        SELECT "version" FROM "{snapshots}"
        WHERE "stream" = ?1 AND "aggregate_id" = ?2 AND "tag" = ?4), ?3))
ORDER BY 2
