-- The first event of an aggregate: version 1, refused by the unique key if it exists. An
-- INSERT .. SELECT (from DUAL) for the AUTO-INC lock, as append.sql explains. Placeholders:
-- stream, aggregate_id, timestamp, event, metadata.
INSERT INTO `{events}` (`stream`, `aggregate_id`, `version`, `timestamp`, `event`, `metadata`)
SELECT ?, ?, 1, FROM_UNIXTIME(? / 1000), ?, ?
FROM DUAL
