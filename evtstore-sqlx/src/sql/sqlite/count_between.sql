-- How many rows of the streams (?3, a JSON array) lie after position ?1, up to ?2.
SELECT COUNT(*) FROM "{events}"
WHERE "position" > ?1 AND "position" <= ?2 AND +"stream" IN (SELECT value FROM json_each(?3))
