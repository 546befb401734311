-- Run by migrate() once per table whose text does not compare byte for byte without padding
-- (tables of the TypeScript evtstore or of the first release). The table is rebuilt.
ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}
