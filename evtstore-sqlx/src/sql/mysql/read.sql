-- Gap-free page of events: a plain consistent read, bounded by a position at or below the
-- settled position that settled_position.sql read before it started (just before, on the same
-- connection, for one page; once for all the ranges of a handler catching up, which run two at
-- a time on connections of their own: see mysql/read_ranges.rs).
--
-- A consistent read alone is not gap-free, even though appends commit in position order:
-- InnoDB builds a read view by walking its list of running transactions without a lock, and
-- a walk paused after recording append A (position 10) as running can, once A and then B
-- (position 11) have committed, miss B: the view sees 11 and not 10 (see the crate docs).
-- Bounded by the settled position, every row the read can return was committed before its
-- read view was opened, so the view sees all of them: what a walk can miss lies above the
-- bound. Unlike a locking read (the previous design), it takes no lock per row.
-- Placeholders: after, the upper bound, the streams, limit. {streams} is one `?` per stream
-- name, comma-separated. The commit key is NULL (read as 0): MySQL positions need none, and a
-- NULL costs a bit of the row's NULL bitmap where a 0 costs eight bytes and a decode a row.
-- {stream_column} is NULL when the read is of one stream, which the caller knows, and the
-- `stream` column otherwise.
SELECT CAST(`position` AS SIGNED), NULL, {stream_column}, `aggregate_id`,
       CAST(`version` AS SIGNED), CAST(ROUND(UNIX_TIMESTAMP(`timestamp`) * 1000) AS SIGNED),
       `event`, `metadata`
FROM `{events}`
WHERE `position` > ? AND `position` <= ? AND `stream` IN ({streams})
ORDER BY `position`
LIMIT ?
