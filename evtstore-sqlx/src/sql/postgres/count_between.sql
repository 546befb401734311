-- How many rows of the streams lie after cursor ($1 txid, $2 position) and at or before
-- ($3, $4), in (txid, position) order: events held back from reads count, as they are still
-- to be handled.
SELECT COUNT(*) FROM "{events}"
WHERE ("txid", "position") > ($1::bigint::text::xid8, $2::bigint)
  AND ("txid", "position") <= ($3::bigint::text::xid8, $4::bigint)
  AND "stream" = ANY($5)
