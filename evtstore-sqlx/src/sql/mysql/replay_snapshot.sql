-- The first statement of the replay of an aggregate that keeps snapshots: its snapshot stored
-- under the given tag when it is newer than the given version, with the highest version among
-- the aggregate's events (NULL when it has none). Every command stores a snapshot, so the
-- highest version is usually the snapshot's own, and this one row, one primary-key lookup and
-- one probe of the end of the (stream, aggregate_id, version) index, is the whole load.
-- Otherwise the events after the snapshot follow, read by replay_events.sql or
-- replay_versions.sql (`common::replay_from_snapshot`); with no snapshot, the events after the
-- given version.
--
-- It replaced one statement that merged the snapshot and the events: MariaDB sorted that
-- union in a temporary table, and a load from a current snapshot cost 3.0-3.5x a `SELECT 1`
-- round trip (`BENCHMARKS.md`). The subquery compares the events' columns with the values
-- bound, not with the snapshot's columns, so that two tables of different collations (tables
-- `migrate()` has not converted) cannot make the statement fail; with the values known,
-- MariaDB answers `MAX` from one end of the index ("Select tables optimized away").
-- Placeholders: stream, aggregate_id (for the events), stream, aggregate_id, tag, version
-- (from the start, the lowest BIGINT).
SELECT CAST(s.`version` AS SIGNED) AS `version`, s.`state`,
       (SELECT CAST(MAX(e.`version`) AS SIGNED) FROM `{events}` AS e
        WHERE e.`stream` = ? AND e.`aggregate_id` = ?) AS `highest`
FROM `{snapshots}` AS s
WHERE s.`stream` = ? AND s.`aggregate_id` = ? AND s.`tag` = ? AND s.`version` > ?
