-- Grants the claim when nobody holds it or its lease has run out (on the database clock), and
-- raises its epoch: the fencing token of the new holder. Its own owner may take it again at
-- once (a release that failed left the row in its name; a new epoch fences the old grant).
-- A holder's transaction that is moving the bookmark keeps the row locked: this waits for it,
-- then reads the committed row.
UPDATE `{bookmarks}`
SET `owner` = ?, `epoch` = `epoch` + 1,
    `lease_until` = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) + ?
WHERE `bookmark` = ?
  AND (`owner` = '' OR `owner` = ? OR `lease_until` < CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED))
