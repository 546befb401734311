SELECT CAST(`epoch` AS SIGNED), CAST(`position` AS SIGNED), 0 FROM `{bookmarks}`
WHERE `bookmark` = ? AND `owner` = ?
