-- The schema of the TypeScript evtstore with NOT NULL where it matters, a metadata column, the
-- writing transaction's id (gap safety, see the crate docs) and a snapshots table. Every
-- statement is idempotent; `migrate` runs them in one transaction, under migration_lock.sql,
-- and only when schema_current.sql finds something missing. Statements are separated by
-- lines holding only a semicolon.
CREATE TABLE IF NOT EXISTS "{events}" (
    "position" BIGSERIAL PRIMARY KEY,
    "version" BIGINT NOT NULL,
    "stream" VARCHAR(255) NOT NULL,
    "aggregate_id" VARCHAR(255) NOT NULL,
    "timestamp" TIMESTAMPTZ NOT NULL,
    "event" TEXT NOT NULL,
    "metadata" TEXT,
    "txid" XID8 NOT NULL DEFAULT pg_current_xact_id()
)
;
ALTER TABLE "{events}" ADD COLUMN IF NOT EXISTS "metadata" TEXT
;
-- On a table written by the TypeScript evtstore, every existing row gets this migration's
-- transaction id, so they keep their position order; the UPDATE of the bookmarks below pairs
-- its position-only bookmarks with it.
ALTER TABLE "{events}" ADD COLUMN IF NOT EXISTS "txid" XID8 NOT NULL DEFAULT pg_current_xact_id()
;
CREATE UNIQUE INDEX IF NOT EXISTS "{events}_stream_aggregate_id_version_unique"
    ON "{events}" ("stream", "aggregate_id", "version")
;
CREATE INDEX IF NOT EXISTS "{events}_txid_position" ON "{events}" ("txid", "position")
;
CREATE TABLE IF NOT EXISTS "{bookmarks}" (
    "bookmark" VARCHAR(255) PRIMARY KEY,
    "position" BIGINT NOT NULL,
    "txid" BIGINT
)
;
ALTER TABLE "{bookmarks}" ADD COLUMN IF NOT EXISTS "txid" BIGINT
;
-- The claim of the handler (or segment) the bookmark belongs to: who runs it, its fencing
-- epoch, and until when (epoch milliseconds, database clock). Writers that know nothing of
-- claims (the TypeScript evtstore) keep working: the columns have defaults.
ALTER TABLE "{bookmarks}" ADD COLUMN IF NOT EXISTS "owner" VARCHAR(255) NOT NULL DEFAULT ''
;
ALTER TABLE "{bookmarks}" ADD COLUMN IF NOT EXISTS "epoch" BIGINT NOT NULL DEFAULT 0
;
ALTER TABLE "{bookmarks}" ADD COLUMN IF NOT EXISTS "lease_until" BIGINT NOT NULL DEFAULT 0
;
UPDATE "{bookmarks}" AS b
SET "txid" = COALESCE((
    SELECT e."txid"::text::bigint FROM "{events}" AS e
    WHERE e."position" <= b."position"
    ORDER BY e."position" DESC
    LIMIT 1
), 0)
WHERE b."txid" IS NULL
;
CREATE TABLE IF NOT EXISTS "{snapshots}" (
    "stream" VARCHAR(255) NOT NULL,
    "aggregate_id" VARCHAR(255) NOT NULL,
    "version" BIGINT NOT NULL,
    "tag" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    PRIMARY KEY ("stream", "aggregate_id")
)
;
-- Wake-ups across processes: every statement that inserts events (this library's appends and
-- any other writer's) notifies the channel `evtstore_{events}` with the table's schema and
-- name, so that tailing handlers of every process on the database wake at once. A
-- notification is sent when the inserting transaction commits, and only then.
CREATE OR REPLACE FUNCTION "{events}_wake"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('evtstore_{events}', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END
$$
;
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgname = '{events}_wake' AND tgrelid = to_regclass('"{events}"')
    ) THEN
        CREATE TRIGGER "{events}_wake" AFTER INSERT ON "{events}"
            FOR EACH STATEMENT EXECUTE FUNCTION "{events}_wake"();
    END IF;
END
$$
;
-- Claims let go, across processes: a bookmark row whose owner is cleared (a runner stopped)
-- notifies `evtstore_{bookmarks}`, so that runners standing by in every process take the
-- claim at once instead of at their next claim poll.
CREATE OR REPLACE FUNCTION "{bookmarks}_released"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('evtstore_{bookmarks}', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END
$$
;
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgname = '{bookmarks}_released' AND tgrelid = to_regclass('"{bookmarks}"')
    ) THEN
        CREATE TRIGGER "{bookmarks}_released" AFTER UPDATE OF "owner" ON "{bookmarks}"
            FOR EACH ROW WHEN (OLD."owner" <> '' AND NEW."owner" = '')
            EXECUTE FUNCTION "{bookmarks}_released"();
    END IF;
END
$$
