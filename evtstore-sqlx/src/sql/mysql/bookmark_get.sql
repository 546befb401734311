SELECT CAST(`position` AS SIGNED) FROM `{bookmarks}` WHERE `bookmark` = ?
