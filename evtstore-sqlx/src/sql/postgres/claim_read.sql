SELECT "epoch", "position", COALESCE("txid", 0) FROM "{bookmarks}"
WHERE "bookmark" = $1 AND "owner" = $2
