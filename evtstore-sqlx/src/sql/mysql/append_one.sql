-- One event on an aggregate that has events: selected from the row of the version before, found
-- by the whole unique key, so a gap inserts nothing (a version conflict) and the statement needs
-- no derived table. It is an INSERT .. SELECT for the AUTO-INC lock, as append.sql explains.
-- Placeholders: stream, aggregate_id, version, timestamp, event, metadata; stream,
-- aggregate_id, version - 1.
INSERT INTO `{events}` (`stream`, `aggregate_id`, `version`, `timestamp`, `event`, `metadata`)
SELECT ?, ?, ?, FROM_UNIXTIME(? / 1000), ?, ?
FROM `{events}`
WHERE `stream` = ? AND `aggregate_id` = ? AND `version` = ?
