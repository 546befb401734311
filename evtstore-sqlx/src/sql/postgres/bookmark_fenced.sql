-- Moves the bookmark of a projection, in its transaction, only while the claim is still the
-- writer's (same owner, same epoch), and extends its lease. Committed durably: it commits the
-- projection's writes too.
UPDATE "{bookmarks}"
SET "position" = $1, "txid" = $2, "txid_position" = $1,
    "lease_until" = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3
WHERE "bookmark" = $4 AND "owner" = $5 AND "epoch" = $6
