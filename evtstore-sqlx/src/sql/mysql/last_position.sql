-- A locking read, as settled_position.sql, of the last row of these streams: it waits for that
-- row's append to commit, and appends commit in position order, so a tailing handler never
-- starts after a position whose predecessors are still being written. {streams} is one `?` per stream name, comma-separated.
SELECT CAST(`position` AS SIGNED) FROM `{events}`
WHERE `stream` IN ({streams})
ORDER BY `position` DESC
LIMIT 1
LOCK IN SHARE MODE
