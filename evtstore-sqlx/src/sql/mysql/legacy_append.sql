-- The append of the first release (see legacy_allocate.sql): explicit positions from the
-- sequence, appended only if the aggregate is at the version just before the first. {rows} is
-- one `SELECT ? AS p, ? AS v, ? AS e` per event, joined by UNION ALL.
INSERT INTO `{events}` (`position`, `stream`, `aggregate_id`, `version`, `timestamp`, `event`, `metadata`)
SELECT r.p, ?, ?, r.v, FROM_UNIXTIME(? / 1000), r.e, ?
FROM ({rows}) AS r
WHERE (SELECT COALESCE(MAX(`version`), 0) FROM `{events}`
       WHERE `stream` = ? AND `aggregate_id` = ?) = ?
