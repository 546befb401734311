SELECT "position", 0 FROM "{bookmarks}" WHERE "bookmark" = ?1
