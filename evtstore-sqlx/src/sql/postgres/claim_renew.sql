UPDATE "{bookmarks}"
SET "lease_until" = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $1
WHERE "bookmark" = $2 AND "owner" = $3 AND "epoch" = $4
