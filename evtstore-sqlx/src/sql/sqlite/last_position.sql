SELECT "position" FROM "{events}"
WHERE +"stream" IN (SELECT value FROM json_each(?1))
ORDER BY "position" DESC
LIMIT 1
