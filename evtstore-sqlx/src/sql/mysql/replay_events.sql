-- The events of an aggregate for folding, after the given version: all of them when it keeps
-- no snapshot, those after its snapshot when replay_snapshot.sql found events beyond it
-- (`ReplayColumns::EventsOnly`). A range of the (stream, aggregate_id, version) index, already
-- in version order: nothing is sorted. Placeholders: stream, aggregate_id, version.
SELECT CAST(`version` AS SIGNED) AS `version`, CAST(`position` AS SIGNED) AS `position`,
       `event`
FROM `{events}`
WHERE `stream` = ? AND `aggregate_id` = ? AND `version` > ?
ORDER BY `version`
