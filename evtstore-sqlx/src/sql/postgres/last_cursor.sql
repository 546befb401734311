-- The last event a reader may safely read (see read.sql), then the bound and the newest txid
-- of committed events held back by an older transaction still running. Always one row.
WITH bound AS (
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
), last AS (
    SELECT "txid", "position"
    FROM "{events}"
    WHERE "stream" = ANY($1) AND "txid" < (SELECT xmin FROM bound)
    ORDER BY "txid" DESC, "position" DESC
    LIMIT 1
)
SELECT last."txid"::text::bigint, last."position",
       (SELECT xmin FROM bound)::text::bigint,
       (SELECT MAX("txid") FROM "{events}"
        WHERE "txid" >= (SELECT xmin FROM bound) AND "stream" = ANY($1))::text::bigint
FROM (SELECT 1) AS one LEFT JOIN last ON true
