-- Replaces the stored snapshot unless it has a higher version under the same tag.
INSERT INTO "{snapshots}" ("stream", "aggregate_id", "version", "tag", "state")
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT ("stream", "aggregate_id") DO UPDATE
SET "version" = excluded."version", "tag" = excluded."tag", "state" = excluded."state"
WHERE NOT ("{snapshots}"."tag" = excluded."tag" AND "{snapshots}"."version" > excluded."version")
