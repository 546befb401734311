-- A locking read, as read.sql: a tailing handler must not start after a position whose
-- predecessors are still being written. {streams} is one `?` per stream name, comma-separated.
SELECT CAST(`position` AS SIGNED) FROM `{events}`
WHERE `stream` IN ({streams})
ORDER BY `position` DESC
LIMIT 1
LOCK IN SHARE MODE
