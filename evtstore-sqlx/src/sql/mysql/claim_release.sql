UPDATE `{bookmarks}` SET `owner` = '', `lease_until` = 0
WHERE `bookmark` = ? AND `owner` = ? AND `epoch` = ?
