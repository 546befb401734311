-- One event (the usual command), appended only if the aggregate is at the version just before
-- it: append.sql without the array. "txid" takes its default: this transaction's id.
INSERT INTO "{events}" ("stream", "aggregate_id", "version", "timestamp", "event", "metadata")
SELECT $1, $2, $3::bigint, to_timestamp($4::float8 / 1000), $5, $6
WHERE (SELECT COALESCE(MAX("version"), 0) FROM "{events}"
       WHERE "stream" = $1 AND "aggregate_id" = $2) = $3::bigint - 1
