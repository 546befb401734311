-- How many rows of the streams lie after a position, up to another. A plain (not locking)
-- count: an estimate of lag needs no wait for rows being written. {streams} is one `?` per
-- stream name, comma-separated.
SELECT COUNT(*) FROM `{events}`
WHERE `position` > ? AND `position` <= ? AND `stream` IN ({streams})
