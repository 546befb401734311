-- Grants the claim when nobody holds it or its lease has run out (on the database clock), and
-- raises its epoch: the fencing token of the new holder.
UPDATE "{bookmarks}"
SET "owner" = ?1, "epoch" = "epoch" + 1,
    "lease_until" = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + ?2
WHERE "bookmark" = ?3
  AND ("owner" = '' OR "lease_until" < CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
