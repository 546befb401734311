SELECT "position", "txid"::text::bigint, "stream", "aggregate_id", "version"::bigint,
       (EXTRACT(EPOCH FROM "timestamp") * 1000)::bigint, "event", "metadata"
FROM "{events}"
WHERE "stream" = $1 AND "aggregate_id" = $2 AND "version" > $3
ORDER BY "version"
