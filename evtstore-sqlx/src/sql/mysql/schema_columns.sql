-- What migrate() needs to know of the existing tables, read without taking any lock: each
-- column of the three tables, whether it is AUTO_INCREMENT, and its collation.
SELECT CAST(`TABLE_NAME` AS CHAR), CAST(`COLUMN_NAME` AS CHAR), CAST(`EXTRA` AS CHAR),
       CAST(`COLLATION_NAME` AS CHAR)
FROM information_schema.COLUMNS
WHERE `TABLE_SCHEMA` = DATABASE() AND `TABLE_NAME` IN ('{events}', '{bookmarks}', '{snapshots}')
