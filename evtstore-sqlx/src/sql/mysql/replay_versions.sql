-- replay_events.sql without the position, for `Store::replay_without_positions`: a fold of an
-- aggregate without upcasters reads the version (to check that the history is whole) and the
-- event, of all its events or of those after its snapshot (`ReplayColumns::VersionsAndEvents`). Placeholders: stream,
-- aggregate_id, version.
SELECT CAST(`version` AS SIGNED) AS `version`, `event`
FROM `{events}`
WHERE `stream` = ? AND `aggregate_id` = ? AND `version` > ?
ORDER BY `version`
