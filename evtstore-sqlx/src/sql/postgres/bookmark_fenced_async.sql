-- Moves the bookmark of a plain handler only while the claim is still the writer's, and
-- extends its lease. Committed without waiting for the WAL flush (synchronous_commit off for
-- this statement's transaction only): plain handlers write a bookmark after every page, and
-- their delivery is at least once anyway. A server crash can lose the last bookmarks written,
-- never an event, and the handler then hands over again the events after the one that
-- survived.
UPDATE "{bookmarks}"
SET "position" = $1, "txid" = $2, "txid_position" = $1,
    "lease_until" = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
WHERE "bookmark" = $4 AND "owner" = $5 AND "epoch" = $6
