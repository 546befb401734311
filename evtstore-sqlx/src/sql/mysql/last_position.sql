-- {streams} is one `?` per stream name, comma-separated.
SELECT CAST(`position` AS SIGNED) FROM `{events}`
WHERE `stream` IN ({streams})
ORDER BY `position` DESC
LIMIT 1
