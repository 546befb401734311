-- One event, appended only if the aggregate is at the version just before it. SQLite runs one
-- writer at a time, so positions are handed out in commit order.
INSERT INTO "{events}" ("stream", "aggregate_id", "version", "timestamp", "event", "metadata")
SELECT ?1, ?2, ?3, ?4, ?5, ?6
WHERE (SELECT COALESCE(MAX("version"), 0) FROM "{events}"
       WHERE "stream" = ?1 AND "aggregate_id" = ?2) = ?3 - 1
