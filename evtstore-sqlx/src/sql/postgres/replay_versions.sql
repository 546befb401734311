-- replay_events.sql without the position, for `Store::replay_without_positions`: a fold of an
-- aggregate without upcasters reads the version (to check that the history is whole) and the
-- event, of all its events or of those after its snapshot. Every value of a row costs PostgreSQL an encoding and the driver a
-- decoding (`ReplayColumns::VersionsAndEvents`). $4 is always NULL (see replay_events.sql).
SELECT e."version"::bigint AS "version", e."event"
FROM "{events}" AS e
WHERE e."stream" = $1 AND e."aggregate_id" = $2 AND e."version" > $3::bigint
ORDER BY e."version"
LIMIT $4
