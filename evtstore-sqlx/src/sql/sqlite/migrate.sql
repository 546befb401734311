-- The schema of the TypeScript evtstore (knex) with NOT NULL where it matters, a metadata
-- column, and a snapshots table. Every statement is idempotent. Statements are separated by
-- lines holding only a semicolon.
CREATE TABLE IF NOT EXISTS "{events}" (
    "position" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "version" INTEGER NOT NULL,
    "stream" VARCHAR(255) NOT NULL,
    "aggregate_id" VARCHAR(255) NOT NULL,
    "timestamp" INTEGER NOT NULL,
    "event" TEXT NOT NULL,
    "metadata" TEXT
)
;
CREATE UNIQUE INDEX IF NOT EXISTS "{events}_stream_aggregate_id_version_unique"
    ON "{events}" ("stream", "aggregate_id", "version")
;
CREATE TABLE IF NOT EXISTS "{bookmarks}" (
    "bookmark" VARCHAR(255) NOT NULL PRIMARY KEY,
    "position" BIGINT NOT NULL,
    "owner" VARCHAR(255) NOT NULL DEFAULT '',
    "epoch" BIGINT NOT NULL DEFAULT 0,
    "lease_until" BIGINT NOT NULL DEFAULT 0
)
;
CREATE TABLE IF NOT EXISTS "{snapshots}" (
    "stream" VARCHAR(255) NOT NULL,
    "aggregate_id" VARCHAR(255) NOT NULL,
    "version" INTEGER NOT NULL,
    "tag" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    PRIMARY KEY ("stream", "aggregate_id")
)
