-- The events of an aggregate for folding, after version $3: all of them when it keeps no
-- snapshot, those after its snapshot when replay_snapshot.sql found events beyond it
-- (`ReplayColumns::EventsOnly`). A range of the (stream, aggregate_id, version) index, already
-- in version order, with nothing to merge or sort.
SELECT e."version"::bigint AS "version", e."position", e."event"
FROM "{events}" AS e
WHERE e."stream" = $1 AND e."aggregate_id" = $2 AND e."version" > $3::bigint
ORDER BY e."version"
-- $4 is always NULL, which is no limit. Without it, on a table of a few long aggregates, the
-- generic plan (forced by `PgStore::session_options`; under `auto`, whether it is used depends
-- on the data: a tiny aggregate gets custom plans) expects a third of
-- an aggregate's rows after an unknown version, reads them with a bitmap scan, and sorts them:
-- 0.9 ms for 1,000 events, against 0.3-0.4 ms for the index range in order, which a limit
-- the planner cannot see makes the cheaper plan. `tests/postgres_plans.rs` checks the plan.
LIMIT $4
