-- The stream and aggregate_id columns are NULL: the caller knows them.
SELECT CAST(`position` AS SIGNED), CAST(0 AS SIGNED), NULL, NULL,
       CAST(`version` AS SIGNED), CAST(ROUND(UNIX_TIMESTAMP(`timestamp`) * 1000) AS SIGNED),
       `event`, `metadata`
FROM `{events}`
WHERE `stream` = ? AND `aggregate_id` = ? AND `version` > ?
ORDER BY `version`
