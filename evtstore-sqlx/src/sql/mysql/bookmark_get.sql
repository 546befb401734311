SELECT CAST(`position` AS SIGNED), 0 FROM `{bookmarks}` WHERE `bookmark` = ?
