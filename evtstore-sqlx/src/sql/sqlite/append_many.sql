-- Several events in one statement (all or none): ?5 is a JSON array of the events' JSON texts,
-- in version order starting at ?3.
INSERT INTO "{events}" ("stream", "aggregate_id", "version", "timestamp", "event", "metadata")
SELECT ?1, ?2, ?3 + e.key, ?4, e.value, ?6
FROM json_each(?5) AS e
WHERE (SELECT COALESCE(MAX("version"), 0) FROM "{events}"
       WHERE "stream" = ?1 AND "aggregate_id" = ?2) = ?3 - 1
ORDER BY e.key
