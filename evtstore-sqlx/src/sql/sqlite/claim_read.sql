-- The claim just granted and the bookmark under it (a TypeScript-made row may hold no
-- position: read as the start).
SELECT "epoch", COALESCE("position", 0), 0 FROM "{bookmarks}" WHERE "bookmark" = ?1 AND "owner" = ?2
