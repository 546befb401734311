-- Gap-free reading (see read.sql), the plain form: one page, nothing else. When the page comes
-- back full, `read` is done; otherwise it asks read.sql, which also says whether committed
-- events wait behind an older transaction. The bound is a subquery so that it is computed
-- once, not for every row; ORDER BY names the table's columns, not the converted output
-- columns of the same names, so that the (txid, position) index gives the order.
SELECT e."position", e."txid", e."stream", e."aggregate_id", e."version"::bigint,
       e."timestamp", e."event", e."metadata"
FROM "{events}" AS e
WHERE (e."txid", e."position") > ($1::bigint::text::xid8, $2::bigint)
  AND e."txid" < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
  AND e."stream" = ANY($3)
ORDER BY e."txid", e."position"
LIMIT $4
