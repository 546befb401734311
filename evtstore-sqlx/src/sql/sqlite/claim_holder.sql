-- Who holds the claim `name` and for how much longer (milliseconds on the database clock;
-- negative once run out). An owner of '' means nobody.
SELECT "owner", "epoch",
       "lease_until" - CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
FROM "{bookmarks}" WHERE "bookmark" = ?1
