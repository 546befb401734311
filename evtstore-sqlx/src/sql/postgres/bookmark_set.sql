-- Committed without waiting for the WAL flush (synchronous_commit off for this transaction
-- only): handlers write a bookmark after every page, and delivery is at least once anyway. A
-- server crash can lose the last bookmarks written, never an event, and the handler then hands
-- over again the events after the bookmark that survived.
INSERT INTO "{bookmarks}" ("bookmark", "position", "txid", "txid_position")
SELECT $1, $2, $3, $2
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
ON CONFLICT ("bookmark") DO UPDATE
SET "position" = excluded."position", "txid" = excluded."txid",
    "txid_position" = excluded."txid_position"
