-- The first release's one-row position sequence, for `legacy_sequence_positions` only.
CREATE TABLE IF NOT EXISTS `{events}_sequence` (
    `id` TINYINT NOT NULL PRIMARY KEY,
    `position` BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB
;
INSERT IGNORE INTO `{events}_sequence` (`id`, `position`)
SELECT 1, COALESCE(MAX(`position`), 0) FROM `{events}`
