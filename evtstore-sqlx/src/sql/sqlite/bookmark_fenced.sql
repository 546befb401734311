-- Moves the bookmark only while the claim is still the writer's (same owner, same epoch), and
-- extends its lease.
UPDATE "{bookmarks}"
SET "position" = ?1,
    "lease_until" = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ?2
WHERE "bookmark" = ?3 AND "owner" = ?4 AND "epoch" = ?5
