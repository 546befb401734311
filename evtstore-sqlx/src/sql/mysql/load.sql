-- The stream and aggregate_id columns are NULL: the caller knows them. So is the commit key
-- (read as 0), which MySQL positions do not need (see read.sql).
SELECT CAST(`position` AS SIGNED), NULL, NULL, NULL,
       CAST(`version` AS SIGNED), CAST(ROUND(UNIX_TIMESTAMP(`timestamp`) * 1000) AS SIGNED),
       `event`, `metadata`
FROM `{events}`
WHERE `stream` = ? AND `aggregate_id` = ? AND `version` > ?
ORDER BY `version`
