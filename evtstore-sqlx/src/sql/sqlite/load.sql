SELECT "position", 0, "stream", "aggregate_id", "version", "timestamp", "event", "metadata"
FROM "{events}"
WHERE "stream" = ?1 AND "aggregate_id" = ?2 AND "version" > ?3
ORDER BY "version"
