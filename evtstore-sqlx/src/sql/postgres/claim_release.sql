UPDATE "{bookmarks}" SET "owner" = '', "lease_until" = 0
WHERE "bookmark" = $1 AND "owner" = $2 AND "epoch" = $3
