-- An aggregate for folding, in one statement: the snapshot stored under the given tag when it
-- is newer than the given version (kind 0; a NULL tag matches none), then the events after
-- that snapshot, or after the given version when there is none (kind 1), by version. The
-- snapshot's version is below every event's, so it comes first. MariaDB reads the events as a
-- range of the (stream, aggregate_id, version) index and sorts the union's rows (it does not
-- merge the two parts); the ORDER BY is what guarantees the order. Only what the fold needs is
-- sent. Placeholders in text order: stream, aggregate_id, tag, version; stream, aggregate_id,
-- version; stream, aggregate_id, tag; version. From the start the version is the lowest
-- BIGINT, so that rows with a version below 1 are read and refused.
SELECT CAST(0 AS SIGNED) AS `kind`, CAST(`version` AS SIGNED) AS `version`,
       CAST(NULL AS SIGNED) AS `position`, `state` AS `body`
FROM `{snapshots}`
WHERE `stream` = ? AND `aggregate_id` = ? AND `tag` = ? AND `version` > ?
UNION ALL
SELECT CAST(1 AS SIGNED), CAST(`version` AS SIGNED), CAST(`position` AS SIGNED), `event`
FROM `{events}`
WHERE `stream` = ? AND `aggregate_id` = ?
  AND `version` > GREATEST(?, COALESCE((
        SELECT `version` FROM `{snapshots}`
        WHERE `stream` = ? AND `aggregate_id` = ? AND `tag` = ?), ?))
ORDER BY `version`
