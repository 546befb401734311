-- The claim row of a handler that has no bookmark yet: position -1 reads as "no bookmark" here
-- and as "from the start" to the TypeScript evtstore.
INSERT INTO "{bookmarks}" ("bookmark", "position", "txid", "txid_position") VALUES ($1, -1, 0, -1)
ON CONFLICT ("bookmark") DO NOTHING
