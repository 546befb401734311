-- ?2 is a JSON array of stream names. The unary `+` keeps the planner off the
-- (stream, aggregate_id, version) index, which would read a whole stream and sort it for every
-- page; the primary key gives the rows in order.
SELECT "position", 0, "stream", "aggregate_id", "version", "timestamp", "event", "metadata"
FROM "{events}"
WHERE "position" > ?1 AND +"stream" IN (SELECT value FROM json_each(?2))
ORDER BY "position"
LIMIT ?3
