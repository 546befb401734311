-- An aggregate for folding when it keeps no snapshot (replay.sql without the snapshot part):
-- the events after the given version, as replay.sql returns them (kind 1). A range of the
-- (stream, aggregate_id, version) index, already in version order: unlike replay.sql's
-- union, nothing is sorted. Placeholders: stream, aggregate_id, version.
SELECT CAST(1 AS SIGNED) AS `kind`, CAST(`version` AS SIGNED) AS `version`,
       CAST(`position` AS SIGNED) AS `position`, `event` AS `body`
FROM `{events}`
WHERE `stream` = ? AND `aggregate_id` = ? AND `version` > ?
ORDER BY `version`
