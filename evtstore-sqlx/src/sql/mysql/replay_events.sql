-- An aggregate for folding when it keeps no snapshot (replay.sql without the snapshot part):
-- the events after the given version, as replay.sql returns them but without the kind column
-- (every row is an event; see `ReplayColumns::EventsOnly`). A range of the
-- (stream, aggregate_id, version) index, already in version order: unlike replay.sql's
-- union, nothing is sorted. Placeholders: stream, aggregate_id, version.
SELECT CAST(`version` AS SIGNED) AS `version`, CAST(`position` AS SIGNED) AS `position`,
       `event`
FROM `{events}`
WHERE `stream` = ? AND `aggregate_id` = ? AND `version` > ?
ORDER BY `version`
