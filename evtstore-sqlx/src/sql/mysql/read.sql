-- Gap-free page of events. A locking read (LOCK IN SHARE MODE) does not read from a snapshot:
-- it reads the newest version of each row it meets in the primary key and, for a row whose
-- transaction is still running, waits until it commits or rolls back. Appends enter the index
-- in position order (append.sql), so every position below a row this read returns is either
-- in the index, and read or waited for, or never will be. Sessions run at READ COMMITTED (see
-- the crate docs), where locking reads take no gap locks and do not hold up appends.
-- {streams} is one `?` per stream name, comma-separated.
SELECT CAST(`position` AS SIGNED), CAST(0 AS SIGNED), `stream`, `aggregate_id`,
       CAST(`version` AS SIGNED), CAST(ROUND(UNIX_TIMESTAMP(`timestamp`) * 1000) AS SIGNED),
       `event`, `metadata`
FROM `{events}`
WHERE `position` > ? AND `stream` IN ({streams})
ORDER BY `position`
LIMIT ?
LOCK IN SHARE MODE
