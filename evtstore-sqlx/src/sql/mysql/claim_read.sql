-- The claim just granted and the bookmark under it (a TypeScript-made row may hold no
-- position: read as the start).
SELECT CAST(`epoch` AS SIGNED), CAST(COALESCE(`position`, 0) AS SIGNED), 0 FROM `{bookmarks}`
WHERE `bookmark` = ? AND `owner` = ?
