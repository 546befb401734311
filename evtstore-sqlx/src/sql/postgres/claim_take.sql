-- Grants the claim when nobody holds it or its lease has run out (on the database clock), and
-- raises its epoch: the fencing token of the new holder. Its own owner may take it again at
-- once (a release that failed left the row in its name; a new epoch fences the old grant).
-- A holder's transaction that is moving the bookmark keeps the row locked: this waits for it,
-- then checks again.
UPDATE "{bookmarks}"
SET "owner" = $1, "epoch" = "epoch" + 1,
    "lease_until" = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $2
WHERE "bookmark" = $3
  AND ("owner" = '' OR "owner" = $4 OR "lease_until" < (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
