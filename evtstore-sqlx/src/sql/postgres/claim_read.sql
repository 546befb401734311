-- The claim just granted and the bookmark under it, as the cursor to resume from (see
-- bookmark_get.sql; a TypeScript-made row may hold no position: read as the start).
SELECT b."epoch", r."position", r."txid"
FROM "{bookmarks}" AS b, "{bookmarks}_resume"(COALESCE(b."position", 0), b."txid", b."txid_position") AS r
WHERE b."bookmark" = $1 AND b."owner" = $2
