-- ?2 is a JSON array of stream names.
SELECT "position", 0, "stream", "aggregate_id", "version", "timestamp", "event", "metadata"
FROM "{events}"
WHERE "position" > ?1 AND "stream" IN (SELECT value FROM json_each(?2))
ORDER BY "position"
LIMIT ?3
