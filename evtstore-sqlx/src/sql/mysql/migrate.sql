-- The schema of the TypeScript evtstore with NOT NULL where it matters, a metadata column, a
-- one-row position sequence (gap safety, see the crate docs) and a snapshots table. Every
-- statement is idempotent. Text columns compare byte for byte (utf8mb4_bin): aggregate ids
-- `Alice` and `alice` are two aggregates. Statements are separated by lines holding only a
-- semicolon.
CREATE TABLE IF NOT EXISTS `{events}` (
    `position` BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    `version` BIGINT NOT NULL,
    `stream` VARCHAR(255) NOT NULL,
    `aggregate_id` VARCHAR(255) NOT NULL,
    `timestamp` DATETIME(3) NOT NULL,
    `event` LONGTEXT NOT NULL,
    `metadata` TEXT NULL,
    UNIQUE KEY `{events}_stream_aggregate_id_version_unique` (`stream`, `aggregate_id`, `version`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
;
CREATE TABLE IF NOT EXISTS `{events}_sequence` (
    `id` TINYINT NOT NULL PRIMARY KEY,
    `position` BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB
;
INSERT IGNORE INTO `{events}_sequence` (`id`, `position`)
SELECT 1, COALESCE(MAX(`position`), 0) FROM `{events}`
;
-- Catches up with rows written without the sequence (by the TypeScript evtstore).
UPDATE `{events}_sequence`
SET `position` = GREATEST(`position`, (SELECT COALESCE(MAX(`position`), 0) FROM `{events}`))
WHERE `id` = 1
;
CREATE TABLE IF NOT EXISTS `{bookmarks}` (
    `bookmark` VARCHAR(255) NOT NULL PRIMARY KEY,
    `position` BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
;
CREATE TABLE IF NOT EXISTS `{snapshots}` (
    `stream` VARCHAR(255) NOT NULL,
    `aggregate_id` VARCHAR(255) NOT NULL,
    `version` BIGINT NOT NULL,
    `tag` VARCHAR(255) NOT NULL,
    `state` LONGTEXT NOT NULL,
    PRIMARY KEY (`stream`, `aggregate_id`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
