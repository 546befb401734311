INSERT INTO "{bookmarks}" ("bookmark", "position", "txid") VALUES ($1, $2, $3)
ON CONFLICT ("bookmark") DO UPDATE SET "position" = excluded."position", "txid" = excluded."txid"
