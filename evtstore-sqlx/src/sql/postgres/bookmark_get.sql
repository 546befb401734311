SELECT "position", COALESCE("txid", 0) FROM "{bookmarks}" WHERE "bookmark" = $1
