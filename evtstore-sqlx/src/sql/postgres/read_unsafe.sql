-- Position order without the snapshot bound: skips events under concurrent writers. Only for
-- measuring what gap safety costs and for showing that the concurrent-writer test catches it.
-- Same columns as read.sql.
SELECT "position", 0::bigint, "stream", "aggregate_id", "version"::bigint,
       "timestamp", "event", "metadata",
       0::bigint, NULL::bigint
FROM "{events}"
WHERE "position" > $2::bigint AND $1::bigint IS NOT NULL
  AND "stream" = ANY($3)
ORDER BY "position"
LIMIT $4
