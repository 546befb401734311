SELECT "position" FROM "{bookmarks}" WHERE "bookmark" = ?1
