INSERT INTO `{bookmarks}` (`bookmark`, `position`) VALUES (?, ?)
ON DUPLICATE KEY UPDATE `position` = VALUES(`position`)
