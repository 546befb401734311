-- The first statement of the replay of an aggregate that keeps snapshots: its snapshot stored
-- under tag $3 when it is newer than version $4, with the version of the aggregate's first
-- event after the snapshot (NULL when none follows it). Every command stores a snapshot, so
-- usually none follows, and this one row, one primary-key lookup and one probe of the
-- (stream, aggregate_id, version) index past the snapshot's version, is the whole load.
-- Otherwise the events after the snapshot follow, read by replay_events.sql or
-- replay_versions.sql (`common::replay_from_snapshot`); with no snapshot, the events after $4.
--
-- It replaced one statement that merged the snapshot and the events (a union): two snapshot
-- lookups, a merge and a sort, 1.31-1.33x a `SELECT 1` round trip in a scratch harness, against
-- 1.20-1.27x for this one (`BENCHMARKS.md`). From the start $4 is the lowest bigint. Its
-- generic plan, the same lookups whatever the values, is kept under PostgreSQL's default
-- `plan_cache_mode` too (`tests/postgres_plans.rs`).
--
-- The probe is a forward scan that starts after the snapshot's version, not `max(version)`
-- and not the first entry of a backward scan:
-- - for an unknown aggregate the generic plan expects one row, and it computed `max` by
--   reading every index entry of the aggregate (1,000 entries and heap visibility checks,
--   0.2 ms, against 0.03 ms for the whole statement);
-- - the backward scan found the aggregate's last entry, the snapshot's own version, and
--   checked it on the heap; the forward scan finds no entry when the snapshot is current, so
--   nothing is read from the events' heap (1.22x a `SELECT 1` against 1.27-1.32x, per
--   statement in a scratch harness: `BENCHMARKS.md`, "Loads, this session").
-- `tests/postgres_plans.rs` checks the plan.
SELECT s."version"::bigint AS "version", s."state",
       (SELECT e."version" FROM "{events}" AS e
        WHERE e."stream" = $1 AND e."aggregate_id" = $2 AND e."version" > s."version"
        ORDER BY e."version"
        LIMIT 1)::bigint AS "following"
FROM "{snapshots}" AS s
WHERE s."stream" = $1 AND s."aggregate_id" = $2 AND s."tag" = $3 AND s."version" > $4::bigint
