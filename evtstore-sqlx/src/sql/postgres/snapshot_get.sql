SELECT "version"::bigint, "tag", "state" FROM "{snapshots}" WHERE "stream" = $1 AND "aggregate_id" = $2
