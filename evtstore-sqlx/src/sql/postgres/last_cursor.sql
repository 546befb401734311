-- The true end of the streams: the last committed event visible now, also when an older
-- transaction still running holds it back from gap-safe reads (see read.sql). A handler that
-- tails starts here: every event committed before the start is history, and so is an event
-- of a transaction older than that last one which was still running at the start. Always one
-- row (NULLs for empty streams).
SELECT last."txid"::text::bigint, last."position"
FROM (SELECT 1) AS one
LEFT JOIN (
    SELECT "txid", "position"
    FROM "{events}"
    WHERE "stream" = ANY($1)
    ORDER BY "txid" DESC, "position" DESC
    LIMIT 1
) AS last ON true
