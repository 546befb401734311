UPDATE "{bookmarks}"
SET "lease_until" = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ?1
WHERE "bookmark" = ?2 AND "owner" = ?3 AND "epoch" = ?4
