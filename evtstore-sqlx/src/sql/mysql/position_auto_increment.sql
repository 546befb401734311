-- Run by migrate() once, on tables of the first release (whose positions came from a sequence
-- table): positions now come from AUTO_INCREMENT (see append.sql). InnoDB starts the counter
-- after the highest position. The table is rebuilt, which blocks writes while it runs.
ALTER TABLE `{events}` MODIFY `position` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT
