-- An aggregate for folding, in one statement: the snapshot stored under tag $4 when it is newer
-- than version $3 (kind 0; a NULL tag matches none), then the events after that snapshot, or
-- after $3 when there is none (kind 1), by version. (From the start $3 is the lowest
-- bigint, so that rows with a version below 1 are read and refused.) The snapshot's version is below every
-- event's, so it comes first.
--
-- The stream and aggregate_id conditions sit on the union, not inside it, so that the planner
-- pushes them into both parts as constants: the events part is then a range of the
-- (stream, aggregate_id, version) index, already in version order, and a Merge Append puts the
-- snapshot before it without sorting the events. (A subquery inside the union's events part
-- would keep it from being pulled up, and then the whole result is sorted.) Only what the fold
-- needs is sent: no stream, aggregate id, timestamp or metadata. The snapshot's version is
-- cast to the events' `integer` (see migrate.sql): a union of `integer` and `bigint` would be
-- `bigint`, a cast of the events' column that no index condition can use, and every event of
-- the aggregate would be read and filtered.
SELECT r."kind", r."version"::bigint, r."position", r."body"
FROM (
    SELECT 0::bigint AS "kind", s."stream", s."aggregate_id", s."version"::integer,
           NULL::bigint AS "position", s."state" AS "body"
    FROM "{snapshots}" AS s
    WHERE s."tag" = $4
    UNION ALL
    SELECT 1::bigint, e."stream", e."aggregate_id", e."version", e."position", e."event"
    FROM "{events}" AS e
) AS r
WHERE r."stream" = $1 AND r."aggregate_id" = $2 AND r."version" > $3::bigint
  AND (r."kind" = 0 OR r."version" > (
        SELECT COALESCE(MAX(s."version"), $3::bigint) FROM "{snapshots}" AS s
        WHERE s."stream" = $1 AND s."aggregate_id" = $2 AND s."tag" = $4))
ORDER BY r."version"
-- $5 is always NULL, which is no limit. It is there for the plan cache of pools built without
-- the store's session options (`PgStore::session_options`, which force generic plans), as a
-- pool handed to `from_pool` may be. Under PostgreSQL's default (`plan_cache_mode = auto`) a
-- prepared statement is planned again for every execution (a "custom plan") until its generic
-- plan is no dearer, by the planner's estimates, than the custom plans so far. This
-- statement's generic plan was estimated at about five times its custom plans (the aggregate
-- is unknown), so it was planned again for every load: 0.15-0.3 ms of planning for
-- 0.03-0.05 ms of execution, more than a `SELECT 1` round trip (`BENCHMARKS.md`). With a limit the planner
-- cannot see, it estimates a tenth of the rows, the generic plan wins after the fifth
-- execution, and its shape is the same. `tests/postgres_plans.rs` checks that it is kept.
LIMIT $5
