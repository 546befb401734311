-- Gap-free reading: only rows of transactions older than the oldest one still running (all of
-- them finished, so nothing can commit among them later), in (txid, position) order.
--
-- The rows come in page order from the nested loop; `read` sorts them again to be sure.
--
-- Every result has at least one row: with an empty page, one row of NULL event columns. The
-- last two columns come from the same snapshot as the page: the bound (xmin) and the newest
-- txid of committed events held back by an older transaction still running (NULL when none).
-- `read` waits for such events when the page is not full, so that an event committed before
-- a read began is returned by it.
--
-- `"stream"` keeps the planner off the (stream, aggregate_id, version) index: with
-- stale statistics (a table just filled) it would read a whole stream and sort it for every
-- page. The (txid, position) index gives the rows in order.
WITH bound AS (
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
), page AS (
    SELECT "position", "txid", "stream", "aggregate_id", "version", "timestamp", "event",
           "metadata"
    FROM "{events}"
    WHERE ("txid", "position") > ($1::bigint::text::xid8, $2::bigint)
      AND "txid" < (SELECT xmin FROM bound)
      AND "stream" = ANY($3)
    ORDER BY "txid", "position"
    LIMIT $4
)
SELECT page."position", page."txid", page."stream", page."aggregate_id",
       page."version"::bigint, page."timestamp",
       page."event", page."metadata",
       (SELECT xmin FROM bound)::text::bigint,
       (SELECT MAX("txid") FROM "{events}"
        WHERE "txid" >= (SELECT xmin FROM bound) AND "stream" = ANY($3))::text::bigint
FROM (SELECT 1) AS one LEFT JOIN page ON true
