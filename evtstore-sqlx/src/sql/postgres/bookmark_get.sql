-- A handler's bookmark as the cursor to resume from: the stored one, or the one worked out from
-- its position when another writer moved it (see `{bookmarks}_resume` in migrate.sql).
SELECT r."position", r."txid"
FROM "{bookmarks}" AS b, "{bookmarks}_resume"(COALESCE(b."position", 0), b."txid", b."txid_position") AS r
WHERE b."bookmark" = $1
