-- All events of one command in one statement (all or none), appended only if the aggregate is
-- at the version just before the first. $5 holds the events' JSON in version order. "txid"
-- takes its default: this transaction's id.
INSERT INTO "{events}" ("stream", "aggregate_id", "version", "timestamp", "event", "metadata")
SELECT $1, $2, $3::bigint + e.ord - 1, to_timestamp($4::float8 / 1000), e.event, $6
FROM UNNEST($5::text[]) WITH ORDINALITY AS e(event, ord)
WHERE (SELECT COALESCE(MAX("version"), 0) FROM "{events}"
       WHERE "stream" = $1 AND "aggregate_id" = $2) = $3::bigint - 1
