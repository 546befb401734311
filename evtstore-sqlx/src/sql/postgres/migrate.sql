-- The schema of the TypeScript evtstore with NOT NULL where it matters, a metadata column, the
-- writing transaction's id (gap safety, see the crate docs) and a snapshots table. Every
-- statement is idempotent; `migrate` runs them in one transaction, under migration_lock.sql,
-- and only when schema_current.sql finds something missing. Statements are separated by
-- lines holding only a semicolon.
CREATE TABLE IF NOT EXISTS "{events}" (
    "position" BIGSERIAL PRIMARY KEY,
    -- INTEGER, as the TypeScript evtstore declares it: node-pg returns a BIGINT as a string,
    -- and that library then computes the next version as "3" + 1 = "31" (then "310").
    "version" INTEGER NOT NULL,
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
-- Tables of earlier releases declared `version` BIGINT, which the TypeScript evtstore cannot
-- append to (above): converted once, a rewrite of the table under this migration's lock.
DO $$
BEGIN
    IF (SELECT atttypid = 'bigint'::regtype FROM pg_attribute
        WHERE attrelid = to_regclass('"{events}"') AND attname = 'version' AND NOT attisdropped)
    THEN
        ALTER TABLE "{events}" ALTER COLUMN "version" TYPE INTEGER;
    END IF;
END
$$
;
-- On a table written by the TypeScript evtstore, every existing row gets this migration's
-- transaction id, so they keep their position order; its position-only bookmarks are resumed
-- from by `{bookmarks}_resume` below.
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
    "txid" BIGINT,
    "txid_position" BIGINT
)
;
ALTER TABLE "{bookmarks}" ADD COLUMN IF NOT EXISTS "txid" BIGINT
;
-- The position `txid` was stored with. This library writes both together; a writer that knows
-- nothing of them (the TypeScript evtstore) moves `position` alone, which this tells apart.
ALTER TABLE "{bookmarks}" ADD COLUMN IF NOT EXISTS "txid_position" BIGINT
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
-- Where a handler resumes from its bookmark: the cursor (position, txid) this library stored,
-- or, when another writer moved or reset the position behind its back (the TypeScript evtstore
-- writes `position` alone, leaving a txid that belongs to another position), a cursor worked
-- out from the position. The stored cursor stands when `txid_position` is the position (this
-- library wrote both), or when the txid is the one of the event at the position (a bookmark of
-- an earlier release, or of one still running during a rolling upgrade, which writes no
-- `txid_position`). Not told apart: a position moved by another writer to another event of the
-- very transaction whose txid is stored (events of one append share it). A moved bookmark says
-- the events up to its position were handled, in position order. The cursor then keeps the
-- position and takes the txid of the first event after it in (txid, position) order (no event
-- of that transaction lies between the two positions), or, when there is none, the txid just
-- below the oldest transaction still running (whose events may yet land after the position):
-- nothing after the position is skipped, and an event at or before it that committed later
-- than one after it is handed over again (at least once). The position is kept, so that a
-- bookmark written back is still one the other writer reads right.
DROP FUNCTION IF EXISTS "{bookmarks}_resume"(BIGINT, BIGINT)
;
CREATE OR REPLACE FUNCTION "{bookmarks}_resume"(
    stored_position BIGINT, stored_txid BIGINT, stored_txid_position BIGINT
)
RETURNS TABLE ("position" BIGINT, "txid" BIGINT) LANGUAGE sql STABLE AS $$
    WITH kept AS (
        SELECT stored_position, COALESCE(stored_txid, 0)
        WHERE stored_txid_position = stored_position
           OR (stored_position IN (0, -1) AND COALESCE(stored_txid, 0) = 0)
           OR stored_txid = (SELECT e."txid"::text::bigint FROM "{events}" AS e
                             WHERE e."position" = stored_position)
    ), next AS (
        SELECT e."txid"::text::bigint AS t FROM "{events}" AS e
        WHERE e."position" > stored_position
        ORDER BY e."txid", e."position"
        LIMIT 1
    ), bound AS (
        SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin
    )
    SELECT * FROM kept
    UNION ALL
    SELECT stored_position,
           CASE WHEN next.t < bound.xmin THEN next.t ELSE bound.xmin - 1 END
    FROM bound LEFT JOIN next ON true
    WHERE NOT EXISTS (SELECT 1 FROM kept)
$$
;
-- The version of the function's body, checked by schema_current.sql: a changed body is
-- replaced by the next `migrate()`.
COMMENT ON FUNCTION "{bookmarks}_resume"(BIGINT, BIGINT, BIGINT) IS 'evtstore resume 2'
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
