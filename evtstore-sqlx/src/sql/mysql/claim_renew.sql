UPDATE `{bookmarks}`
SET `lease_until` = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) + ?
WHERE `bookmark` = ? AND `owner` = ? AND `epoch` = ?
