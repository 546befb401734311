SELECT CAST(`version` AS SIGNED), `tag`, `state` FROM `{snapshots}`
WHERE `stream` = ? AND `aggregate_id` = ?
