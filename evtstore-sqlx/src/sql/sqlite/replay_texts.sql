-- The events of an aggregate with versions in (?3, ?4], in version order, the text alone: for
-- `Store::replay_without_positions` of an aggregate without snapshots, after replay_bounds.sql
-- gave ?4. The versions are unique (the index below), so as many rows as ?4 - ?3 are exactly
-- versions ?3 + 1 to ?4; fewer mean a gap, and the store then reads the aggregate as `replay`
-- does, to report it. sqlx copies every value of a row into an allocation of its own: with
-- one value a row, a load costs what a plain read of the events does (`BENCHMARKS.md`).
SELECT "event"
FROM "{events}"
WHERE "stream" = ?1 AND "aggregate_id" = ?2 AND "version" > ?3 AND "version" <= ?4
ORDER BY "version"
