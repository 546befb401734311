-- The binary utf8mb4 collation that does not pad: MariaDB names it utf8mb4_nopad_bin, MySQL 8
-- utf8mb4_0900_bin. (utf8mb4_bin pads with spaces: `alice` and `alice ` would be one key.)
SELECT CAST(`COLLATION_NAME` AS CHAR) FROM information_schema.COLLATIONS
WHERE `COLLATION_NAME` IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')
ORDER BY `COLLATION_NAME` DESC
LIMIT 1
