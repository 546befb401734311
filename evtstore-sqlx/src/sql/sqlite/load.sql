-- The stream and aggregate_id columns are NULL: the caller knows them.
SELECT "position", 0, NULL, NULL, "version", "timestamp", "event", "metadata"
FROM "{events}"
WHERE "stream" = ?1 AND "aggregate_id" = ?2 AND "version" > ?3
ORDER BY "version"
