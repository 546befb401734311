-- All events of one command in one statement. It is an INSERT .. SELECT on purpose: InnoDB
-- (innodb_autoinc_lock_mode 0 or 1) holds its table-level AUTO-INC lock for the whole of such
-- a statement, so no other append takes a position until this one's rows are in the index,
-- and positions enter the index in order (see read.sql for why that makes reads gap-free).
-- The lock is released when the statement's transaction commits in memory, before the redo
-- log is flushed, so appends still share log flushes. {rows} is one `SELECT ? AS v, ? AS e`
-- per event (version, JSON), joined by UNION ALL.
--
-- A version that exists is refused by the unique key on (stream, aggregate_id, version); a gap
-- (the version before the first is not there) inserts nothing. Both are version conflicts.
-- The gap check is a lookup of one row by the whole unique key, which locks only that row
-- (no gap): it cannot deadlock with an append waiting for the AUTO-INC lock, as a range
-- read such as MAX(version) does (reported by MariaDB as error 1467). Placeholders in text
-- order: stream, aggregate_id, timestamp, metadata, the rows, first version, stream,
-- aggregate_id, first version - 1.
INSERT INTO `{events}` (`stream`, `aggregate_id`, `version`, `timestamp`, `event`, `metadata`)
SELECT ?, ?, r.v, FROM_UNIXTIME(? / 1000), r.e, ?
FROM ({rows}) AS r
WHERE ? = 1 OR EXISTS (
    SELECT 1 FROM `{events}` WHERE `stream` = ? AND `aggregate_id` = ? AND `version` = ?)
ORDER BY r.v
