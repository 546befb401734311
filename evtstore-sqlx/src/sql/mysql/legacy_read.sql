-- The read of the first release, for `legacy_sequence_positions` only: a consistent read,
-- which can see a later append without an earlier one (see the crate docs). {streams} is one
-- `?` per stream name, comma-separated.
SELECT CAST(`position` AS SIGNED), CAST(0 AS SIGNED), `stream`, `aggregate_id`,
       CAST(`version` AS SIGNED), CAST(ROUND(UNIX_TIMESTAMP(`timestamp`) * 1000) AS SIGNED),
       `event`, `metadata`
FROM `{events}`
WHERE `position` > ? AND `stream` IN ({streams})
ORDER BY `position`
LIMIT ?
