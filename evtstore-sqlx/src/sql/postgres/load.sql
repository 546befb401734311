-- The stream and aggregate_id columns are NULL: the caller knows them. ORDER BY names the table's column, not the converted output column of the same name, so
-- that the (stream, aggregate_id, version) index gives the order.
SELECT e."position", e."txid", NULL::text, NULL::text, e."version"::bigint,
       e."timestamp", e."event", e."metadata"
FROM "{events}" AS e
WHERE e."stream" = $1 AND e."aggregate_id" = $2 AND e."version" > $3
ORDER BY e."version"
