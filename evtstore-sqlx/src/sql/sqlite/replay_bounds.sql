-- The lowest and highest version of an aggregate's events, for `Store::replay_without_positions`
-- (then replay_texts.sql). Two subqueries, each one end of the (stream, aggregate_id, version)
-- index: SQLite answers a lone min() or max() from the index's end, and both in one SELECT by
-- reading every entry between.
SELECT (SELECT min("version") FROM "{events}" WHERE "stream" = ?1 AND "aggregate_id" = ?2),
       (SELECT max("version") FROM "{events}" WHERE "stream" = ?1 AND "aggregate_id" = ?2)
