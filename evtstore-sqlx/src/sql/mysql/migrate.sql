-- The schema of the TypeScript evtstore with NOT NULL where it matters, a metadata column and a
-- snapshots table. Positions come from AUTO_INCREMENT, as the TypeScript evtstore's do (gap
-- safety: see append.sql and read.sql). Every statement is idempotent. Text columns compare
-- byte for byte without padding ({collation}): aggregate ids `Alice`, `alice` and `alice `
-- are three aggregates. Statements are separated by lines holding only a semicolon.
CREATE TABLE IF NOT EXISTS `{events}` (
    `position` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    `version` BIGINT NOT NULL,
    `stream` VARCHAR(255) NOT NULL,
    `aggregate_id` VARCHAR(255) NOT NULL,
    `timestamp` DATETIME(3) NOT NULL,
    `event` LONGTEXT NOT NULL,
    `metadata` TEXT NULL,
    UNIQUE KEY `{events}_stream_aggregate_id_version_unique` (`stream`, `aggregate_id`, `version`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {collation}
;
CREATE TABLE IF NOT EXISTS `{bookmarks}` (
    `bookmark` VARCHAR(255) NOT NULL PRIMARY KEY,
    `position` BIGINT NOT NULL,
    `owner` VARCHAR(255) NOT NULL DEFAULT '',
    `epoch` BIGINT NOT NULL DEFAULT 0,
    `lease_until` BIGINT NOT NULL DEFAULT 0
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {collation}
;
CREATE TABLE IF NOT EXISTS `{snapshots}` (
    `stream` VARCHAR(255) NOT NULL,
    `aggregate_id` VARCHAR(255) NOT NULL,
    `version` BIGINT NOT NULL,
    `tag` VARCHAR(255) NOT NULL,
    `state` LONGTEXT NOT NULL,
    PRIMARY KEY (`stream`, `aggregate_id`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {collation}
