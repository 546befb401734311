-- Who holds the claim `name` and for how much longer (milliseconds on the database clock;
-- negative once run out). An owner of '' means nobody.
SELECT CAST(`owner` AS CHAR), CAST(`epoch` AS SIGNED),
       CAST(`lease_until` AS SIGNED) - CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)
FROM `{bookmarks}` WHERE `bookmark` = ?
