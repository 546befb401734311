-- Who holds the claim `name` and for how much longer (milliseconds on the database clock;
-- negative once run out). An owner of '' means nobody.
SELECT "owner", "epoch",
       "lease_until" - (extract(epoch FROM clock_timestamp()) * 1000)::bigint
FROM "{bookmarks}" WHERE "bookmark" = $1
