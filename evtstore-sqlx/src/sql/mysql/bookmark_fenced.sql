-- Moves the bookmark only while the claim is still the writer's (same owner, same epoch), and
-- extends its lease.
UPDATE `{bookmarks}`
SET `position` = ?, `lease_until` = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED) + ?
WHERE `bookmark` = ? AND `owner` = ? AND `epoch` = ?
