//! `migrate()` is safe to call from every process at every start: concurrently with appends and
//! with other `migrate()` calls, on every backend, on a fresh database and on one written by the
//! TypeScript evtstore; and on an up-to-date schema it takes no lock that waits behind (or
//! holds up) ordinary traffic.
//!
//! Every migrating and appending party is an OS process (the `migrate_worker` binary of this
//! crate, `src/bin/migrate_worker.rs`) with its own pool, started with
//! [`std::process::Command`] on a database of its own: a SQLite file, a PostgreSQL schema
//! (named by the URL's `search_path` option), a MariaDB database.
//!
//! The race tests start [`MIGRATORS`] processes that each call `migrate()` [`MIGRATE_CALLS`]
//! times and [`APPENDERS`] processes that each append [`APPENDS`] single-event commands, all at
//! once, in four variants per backend:
//! - `fresh_race`: an empty database; the first migrations race each other and the appenders
//!   wait until the events table exists (they retry only on "table does not exist").
//! - `fresh_migrated`: the same database migrated once beforehand: every call finds the schema
//!   up to date while the appends run.
//! - `typescript_race`: the TypeScript library's tables (the DDL of `typescript_schema.rs`)
//!   with one event and one bookmark; the migrations race to upgrade them while the appenders
//!   wait until the schema takes their rows (they also retry on "column does not exist").
//! - `typescript_migrated`: the TypeScript tables migrated once beforehand.
//!
//! Each asserts that every process exits successfully, that the migrations did overlap the
//! appends, that every appended event is in the database exactly once (with its metadata),
//! that the TypeScript row and bookmark survived, and that the schema is complete (catalog
//! checks per backend, then snapshots, bookmarks and one more `migrate()` through the store).
//! The up-to-date variants also check that the schema was not changed at all (see
//! [`schema_fingerprint`]).
//!
//! The lock tests hold a transaction open on the events table from another session (a read
//! and an uncommitted insert) and check that `migrate()` (in this process and in a worker
//! process) and appends from other connections complete within [`LOCK_BUDGET`] while it stays
//! open; first, a control statement shows that the open transaction does block the DDL an
//! unconditional migration would run (PostgreSQL `ALTER TABLE .. ADD COLUMN IF NOT EXISTS`,
//! MariaDB a table rebuild). On SQLite the holder is a write transaction, and only
//! `migrate()` is checked (appends must wait for SQLite's single writer).
//!
//! The servers come from `EVTSTORE_TEST_POSTGRES_URL` and `EVTSTORE_TEST_MYSQL_URL` (see
//! `common`). The lock tests run alone (they time things, and an open PostgreSQL transaction
//! holds back gap-safe reads on the whole cluster, so it is kept open for about a second).

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use common::Backend;
use common::processes::{Finished, Processes};
use evtstore::{Append, NewEvent, Snapshot, Store, Timestamp};
use evtstore_sqlx::SqlStore;
use evtstore_sqlx::sqlx::{self, Connection};

/// Processes calling `migrate()`.
const MIGRATORS: usize = 4;
/// Calls of `migrate()` per migrating process.
const MIGRATE_CALLS: u32 = 10;
/// Pause between two calls of one migrating process, so that the calls spread over the appends.
const MIGRATE_PAUSE_MS: u64 = 40;
/// Processes appending.
const APPENDERS: usize = 4;
/// Single-event commands per appending process, each on an aggregate of its own.
const APPENDS: u32 = 150;
/// The fewest `migrate()` calls (of all processes) that must run while appends do, or the
/// race tested nothing.
const MIN_OVERLAPPING_CALLS: usize = 4;
/// How long a race may take before its processes are killed and the test fails.
const RACE_TIMEOUT: Duration = Duration::from_secs(40);
/// How long `migrate()` and an append may take while another session holds a transaction open.
const LOCK_BUDGET: Duration = Duration::from_secs(2);
/// The stream the workers append to (`migrate_worker`'s `STREAM`).
const STREAM: &str = "migrate_race";

/// The race tests share the machine (readers); the lock tests run alone (writer).
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    EXCLUSIVE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    EXCLUSIVE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot build a runtime")
}

// ---------------------------------------------------------------------------------------------
// The race tests.

/// What the database holds before the processes start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// Nothing.
    Fresh,
    /// The TypeScript library's tables, one event and one bookmark.
    TypeScript,
}

#[test]
fn sqlite_fresh_race() {
    race(Backend::Sqlite, Start::Fresh, false);
}

#[test]
fn sqlite_fresh_migrated() {
    race(Backend::Sqlite, Start::Fresh, true);
}

#[test]
fn sqlite_typescript_race() {
    race(Backend::Sqlite, Start::TypeScript, false);
}

#[test]
fn sqlite_typescript_migrated() {
    race(Backend::Sqlite, Start::TypeScript, true);
}

#[test]
fn postgres_fresh_race() {
    race(Backend::Postgres, Start::Fresh, false);
}

#[test]
fn postgres_fresh_migrated() {
    race(Backend::Postgres, Start::Fresh, true);
}

#[test]
fn postgres_typescript_race() {
    race(Backend::Postgres, Start::TypeScript, false);
}

#[test]
fn postgres_typescript_migrated() {
    race(Backend::Postgres, Start::TypeScript, true);
}

#[test]
fn mysql_fresh_race() {
    race(Backend::MySql, Start::Fresh, false);
}

#[test]
fn mysql_fresh_migrated() {
    race(Backend::MySql, Start::Fresh, true);
}

#[test]
fn mysql_typescript_race() {
    race(Backend::MySql, Start::TypeScript, false);
}

#[test]
fn mysql_typescript_migrated() {
    race(Backend::MySql, Start::TypeScript, true);
}

/// [`MIGRATORS`] migrating and [`APPENDERS`] appending processes at once on a new database of
/// `backend` holding `start`, migrated once beforehand when `migrated_first`; then the checks.
fn race(backend: Backend, start: Start, migrated_first: bool) {
    let _shared = shared();
    let runtime = runtime();
    let label = format!(
        "{backend:?} {start:?} {}",
        if migrated_first {
            "already migrated"
        } else {
            "unmigrated"
        }
    );
    let database = runtime.block_on(Database::new(backend));
    let fingerprint = runtime.block_on(async {
        let store = database.store().await;
        if start == Start::TypeScript {
            for statement in common::typescript_tables(backend) {
                common::exec(&store, statement).await;
            }
        }
        let mut fingerprint = None;
        if migrated_first {
            store.migrate().await.expect("the first migration failed");
            fingerprint = Some(schema_fingerprint(&store).await);
        }
        close(store).await;
        fingerprint
    });

    let started = Instant::now();
    let mut processes = Processes::default();
    let wait = match start {
        Start::Fresh => "tables",
        Start::TypeScript => "schema",
    };
    // Interleaved, so that neither kind gets a head start.
    for index in 0..MIGRATORS.max(APPENDERS) {
        if index < APPENDERS {
            let mut command = database.worker("append");
            command
                .arg(APPENDS.to_string())
                .arg(format!("p{index}"))
                .args(["--wait", wait]);
            processes.spawn(&format!("appender-{index}"), command);
        }
        if index < MIGRATORS {
            let mut command = database.worker("migrate");
            command
                .arg(MIGRATE_CALLS.to_string())
                .args(["--pause-ms", &MIGRATE_PAUSE_MS.to_string()]);
            processes.spawn(&format!("migrator-{index}"), command);
        }
    }
    let finished = processes.wait_all(Instant::now() + RACE_TIMEOUT);
    let elapsed = started.elapsed();
    let failed: Vec<String> = finished
        .iter()
        .filter(|done| !done.status.is_some_and(|status| status.success()))
        .map(Finished::describe)
        .collect();
    assert!(
        failed.is_empty(),
        "{label}: {} of {} processes failed (database {}):\n{}",
        failed.len(),
        finished.len(),
        database.url,
        failed.join("\n")
    );

    // What the processes report: every call, and whether they overlapped the appends.
    let calls: Vec<(u128, f64)> = finished
        .iter()
        .filter(|done| done.name.starts_with("migrator"))
        .flat_map(|done| done.stdout.lines())
        .filter(|line| line.starts_with("call="))
        .map(|line| {
            (
                field(line, "start_ms").expect("a call line has start_ms"),
                field(line, "ms").expect("a call line has ms"),
            )
        })
        .collect();
    assert_eq!(
        calls.len(),
        MIGRATORS * MIGRATE_CALLS as usize,
        "{label}: every migrate call reports"
    );
    let appended: Vec<(u128, u128, f64, f64)> = finished
        .iter()
        .filter(|done| done.name.starts_with("appender"))
        .map(|done| {
            let line = done.stdout.trim();
            (
                field(line, "first_ms").expect("an appender reports first_ms"),
                field(line, "last_ms").expect("an appender reports last_ms"),
                field(line, "max_latency_ms").expect("an appender reports max_latency_ms"),
                field(line, "waited_ms").expect("an appender reports waited_ms"),
            )
        })
        .collect();
    let appends_from = appended.iter().map(|a| a.0).min().unwrap_or(0);
    let appends_to = appended.iter().map(|a| a.1).max().unwrap_or(0);
    let overlapping = calls
        .iter()
        .filter(|(start, ms)| *start <= appends_to && *start + (*ms as u128) >= appends_from)
        .count();
    let max_call = calls.iter().map(|c| c.1).fold(0.0, f64::max);
    let max_latency = appended.iter().map(|a| a.2).fold(0.0, f64::max);
    let max_wait = appended.iter().map(|a| a.3).fold(0.0, f64::max);
    let retries: u64 = finished
        .iter()
        .filter(|done| done.name.starts_with("appender"))
        .filter_map(|done| field::<u64>(done.stdout.trim(), "retries"))
        .sum();
    eprintln!(
        "{label}: {} processes in {elapsed:.2?}; {} migrate calls (longest {max_call:.1} ms), \
         {overlapping} during the {} ms of appends; {} appends (longest {max_latency:.1} ms, \
         first one after up to {max_wait:.1} ms, {retries} retries on a missing schema)",
        finished.len(),
        calls.len(),
        appends_to.saturating_sub(appends_from),
        APPENDERS * APPENDS as usize,
    );
    assert!(
        overlapping >= MIN_OVERLAPPING_CALLS,
        "{label}: only {overlapping} migrate calls ran while appends did (appends from \
         {appends_from} to {appends_to} ms): the race did not happen"
    );

    runtime.block_on(async {
        let store = database.store().await;
        assert_all_appended(&store, backend, &label).await;
        assert_migrated(&store, &database, start, &label).await;
        if let Some(fingerprint) = fingerprint {
            assert_eq!(
                schema_fingerprint(&store).await,
                fingerprint,
                "{label}: migrate() on an up-to-date schema changed it"
            );
        }
        close(store).await;
    });
}

/// Every event the appenders wrote, once each, at version 1 with its metadata.
async fn assert_all_appended(store: &SqlStore, backend: Backend, label: &str) {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT aggregate_id, version, metadata FROM events WHERE stream = 'migrate_race'"
        }
        Backend::Postgres => {
            "SELECT aggregate_id::text, version::bigint, metadata FROM events \
             WHERE stream = 'migrate_race'"
        }
        Backend::MySql => {
            "SELECT CAST(aggregate_id AS CHAR), CAST(version AS SIGNED), CAST(metadata AS CHAR) \
             FROM events WHERE stream = 'migrate_race'"
        }
    };
    let rows: Vec<(String, i64, Option<String>)> = match store {
        SqlStore::Sqlite(store) => sqlx::query_as(sql).fetch_all(store.pool()).await,
        SqlStore::Postgres(store) => sqlx::query_as(sql).fetch_all(store.pool()).await,
        SqlStore::MySql(store) => sqlx::query_as(sql).fetch_all(store.pool()).await,
        _ => unreachable!("all backends are compiled in the tests"),
    }
    .unwrap_or_else(|error| panic!("{label}: cannot read the appended events: {error}"));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (aggregate_id, version, metadata) in &rows {
        *seen.entry(aggregate_id.clone()).or_default() += 1;
        assert_eq!(*version, 1, "{label}: {aggregate_id}");
        let prefix = aggregate_id.split('-').next().unwrap_or_default();
        assert_eq!(
            metadata.as_deref(),
            Some(format!(r#"{{"by":"{prefix}"}}"#).as_str()),
            "{label}: {aggregate_id}"
        );
    }
    let expected: Vec<String> = (0..APPENDERS)
        .flat_map(|index| (0..APPENDS).map(move |n| format!("p{index}-{n}")))
        .collect();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|id| !seen.contains_key(*id))
        .collect();
    let twice: Vec<(&String, &usize)> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        missing.is_empty() && twice.is_empty() && rows.len() == expected.len(),
        "{label}: {} events instead of {}; missing {missing:?}; more than once {twice:?}",
        rows.len(),
        expected.len()
    );
    // And through the store, which decodes the row with its metadata.
    let loaded = store.load(STREAM, "p0-0", 0).await.unwrap();
    assert_eq!(loaded.len(), 1, "{label}");
    assert_eq!(loaded[0].metadata.as_deref(), Some(r#"{"by":"p0"}"#));
}

/// The schema is complete: catalogs per backend, the TypeScript data, then snapshots,
/// bookmarks and another `migrate()` through the store.
async fn assert_migrated(store: &SqlStore, database: &Database, start: Start, label: &str) {
    match store {
        SqlStore::Sqlite(store) => {
            let (tables, index, metadata): (i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                         AND name IN ('events', 'bookmarks', 'snapshots')), \
                        (SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
                         AND name = 'events_stream_aggregate_id_version_unique'), \
                        (SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'metadata')",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            assert_eq!((tables, index, metadata), (3, 1, 1), "{label}");
        }
        SqlStore::Postgres(store) => {
            let (schema, tables, indexes, columns, unresumed): (String, i64, i64, i64, i64) =
                sqlx::query_as(
                    "SELECT current_schema()::text, \
                     (SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() \
                      AND tablename IN ('events', 'bookmarks', 'snapshots')), \
                     (SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() \
                      AND indexname IN ('events_stream_aggregate_id_version_unique', \
                                        'events_txid_position')), \
                     (SELECT COUNT(*) FROM information_schema.columns \
                      WHERE table_schema = current_schema() \
                      AND (table_name, column_name) IN (('events', 'metadata'), \
                           ('events', 'txid'), ('bookmarks', 'txid'), \
                           ('bookmarks', 'txid_position'))), \
                     (SELECT COUNT(*) FROM bookmarks AS b WHERE NOT EXISTS ( \
                        SELECT 1 FROM bookmarks_resume(b.position, b.txid, b.txid_position)))",
                )
                .fetch_one(store.pool())
                .await
                .unwrap();
            // The URL's search_path option reached the server: the tables are in the test's
            // own schema.
            assert_eq!(schema, database.name, "{label}: the URL's search_path");
            // Every bookmark, the TypeScript one included, has a cursor to resume from.
            assert_eq!(
                (tables, indexes, columns, unresumed),
                (3, 2, 4, 0),
                "{label}"
            );
        }
        SqlStore::MySql(store) => {
            let nopad: String = sqlx::query_scalar(
                "SELECT CAST(COLLATION_NAME AS CHAR) FROM information_schema.COLLATIONS \
                 WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin') \
                 ORDER BY COLLATION_NAME DESC LIMIT 1",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            let columns: Vec<(String, String, String, Option<String>, String)> = sqlx::query_as(
                "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
                            CAST(EXTRA AS CHAR), CAST(COLLATION_NAME AS CHAR), \
                            CAST(DATABASE() AS CHAR) \
                     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                     AND TABLE_NAME IN ('events', 'bookmarks', 'snapshots')",
            )
            .fetch_all(store.pool())
            .await
            .unwrap();
            let column = |table: &str, name: &str| {
                columns
                    .iter()
                    .find(|c| c.0 == table && c.1 == name)
                    .unwrap_or_else(|| panic!("{label}: no column {table}.{name}"))
            };
            assert_eq!(columns[0].4, database.name, "{label}: the URL's database");
            column("events", "metadata");
            assert!(
                column("events", "position")
                    .2
                    .to_ascii_lowercase()
                    .contains("auto_increment"),
                "{label}: positions are AUTO_INCREMENT"
            );
            for (table, name) in [
                ("events", "aggregate_id"),
                ("bookmarks", "bookmark"),
                ("snapshots", "aggregate_id"),
            ] {
                assert_eq!(
                    column(table, name).3.as_deref(),
                    Some(nopad.as_str()),
                    "{label}: collation of {table}.{name}"
                );
            }
        }
        _ => unreachable!("all backends are compiled in the tests"),
    }

    if start == Start::TypeScript {
        let alice = store.load("users", "alice", 0).await.unwrap();
        assert_eq!(alice.len(), 1, "{label}: the TypeScript event");
        assert_eq!(alice[0].event, r#"{"type":"created","name":"alice"}"#);
        assert!(
            store.bookmark("users-model").await.unwrap().is_some(),
            "{label}: the TypeScript bookmark"
        );
    }
    let snapshot = Snapshot {
        version: 1,
        tag: "v1".to_owned(),
        state: "{}".to_owned(),
    };
    store
        .save_snapshot(STREAM, "p0-0", &snapshot)
        .await
        .unwrap();
    assert_eq!(
        store.snapshot(STREAM, "p0-0").await.unwrap(),
        Some(snapshot),
        "{label}"
    );
    let cursor = store.last_cursor(&[STREAM]).await.unwrap();
    store.set_bookmark("migrate-race", cursor).await.unwrap();
    assert_eq!(
        store.bookmark("migrate-race").await.unwrap(),
        Some(cursor),
        "{label}"
    );
    store.migrate().await.expect("migrating once more");
}

/// What changes when the schema is changed: SQLite's schema cookie (incremented by every
/// change); on PostgreSQL each relation's storage and catalog row version (`relfilenode`,
/// `xmin`: a rewrite or any DDL on it changes them); on MariaDB/MySQL each table's InnoDB id
/// (a rebuild changes it).
async fn schema_fingerprint(store: &SqlStore) -> String {
    match store {
        SqlStore::Sqlite(store) => {
            let version: i64 = sqlx::query_scalar("PRAGMA schema_version")
                .fetch_one(store.pool())
                .await
                .expect("cannot read the schema version");
            version.to_string()
        }
        SqlStore::Postgres(store) => sqlx::query_scalar(
            "SELECT string_agg(relname || ':' || relfilenode || ':' || xmin::text, ', ' \
                               ORDER BY relname) \
             FROM pg_class WHERE relnamespace = current_schema()::regnamespace",
        )
        .fetch_one(store.pool())
        .await
        .expect("cannot read pg_class"),
        SqlStore::MySql(store) => {
            // MariaDB's table, then MySQL 8's.
            let mut ids = Err(sqlx::Error::RowNotFound);
            for table in ["INNODB_SYS_TABLES", "INNODB_TABLES"] {
                ids = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
                    "SELECT CAST(GROUP_CONCAT(NAME, ':', TABLE_ID ORDER BY NAME) AS CHAR) \
                     FROM information_schema.{table} WHERE NAME LIKE CONCAT(DATABASE(), '/%')"
                )))
                .fetch_one(store.pool())
                .await;
                if ids.is_ok() {
                    break;
                }
            }
            ids.expect("cannot read the InnoDB table ids")
        }
        _ => unreachable!("all backends are compiled in the tests"),
    }
}

// ---------------------------------------------------------------------------------------------
// The lock tests.

/// A transaction of another session on the events table (a read and an uncommitted insert)
/// stays open while `migrate()` runs in this process and in a worker, and an append runs from
/// other connections: all complete within [`LOCK_BUDGET`]. First, `ALTER TABLE .. ADD COLUMN
/// IF NOT EXISTS` (what `migrate()` ran on every call before) is shown to wait behind it.
///
/// The transaction never outlives the test: it is rolled back at the end; a panic drops its
/// connection (the server then aborts it); and the server ends it after
/// `idle_in_transaction_session_timeout` in any case.
#[test]
fn postgres_migrate_does_not_wait_for_an_open_transaction() {
    let _exclusive = exclusive();
    let runtime = runtime();
    let database = runtime.block_on(Database::new(Backend::Postgres));
    runtime.block_on(async {
        let store = database.store().await;
        store.migrate().await.expect("the first migration failed");
        let appender = database.store().await;
        let mut holder = sqlx::PgConnection::connect(&database.url).await.unwrap();
        let mut other = sqlx::PgConnection::connect(&database.url).await.unwrap();
        for statement in [
            "SET idle_in_transaction_session_timeout = '20s'",
            "BEGIN",
            "SELECT COUNT(*) FROM events",
            "INSERT INTO events (version, stream, aggregate_id, timestamp, event) \
             VALUES (1, 'held', 'held', now(), '{\"type\":\"held\"}')",
        ] {
            sqlx::raw_sql(statement).execute(&mut holder).await.unwrap();
        }
        let opened = Instant::now();
        let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut holder)
            .await
            .unwrap();

        // The control: the DDL of an unconditional migration waits behind the transaction.
        sqlx::raw_sql("SET lock_timeout = '300ms'")
            .execute(&mut other)
            .await
            .unwrap();
        let blocked = sqlx::raw_sql("ALTER TABLE events ADD COLUMN IF NOT EXISTS metadata TEXT")
            .execute(&mut other)
            .await
            .expect_err("ALTER TABLE did not wait behind the open transaction");
        assert_eq!(
            blocked
                .as_database_error()
                .and_then(|error| error.code())
                .as_deref(),
            Some("55P03"),
            "expected lock_not_available: {blocked}"
        );

        let (workers, migrated, appended) =
            while_held(&database, &store, &appender, "pg-held").await;
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM pg_stat_activity WHERE pid = $1")
                .bind(holder_pid)
                .fetch_optional(&mut other)
                .await
                .unwrap();
        assert_eq!(
            state.as_deref(),
            Some("idle in transaction"),
            "the transaction stayed open throughout"
        );
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut holder)
            .await
            .unwrap();
        let held_for = opened.elapsed();
        let _ = holder.close().await;
        let _ = other.close().await;
        eprintln!(
            "PostgreSQL with an open transaction ({held_for:.2?}): migrate {migrated:.2?}, \
             append {appended:.2?}; {workers}"
        );
        close(store).await;
        close(appender).await;
    });
}

/// The same on MariaDB/MySQL: an open transaction that inserted a row; the control is a table
/// rebuild (what `migrate()` runs to convert a collation), which waits behind it.
#[test]
fn mysql_migrate_does_not_wait_for_an_open_transaction() {
    let _exclusive = exclusive();
    let runtime = runtime();
    let database = runtime.block_on(Database::new(Backend::MySql));
    runtime.block_on(async {
        let store = database.store().await;
        store.migrate().await.expect("the first migration failed");
        let appender = database.store().await;
        let mut holder = sqlx::MySqlConnection::connect(&database.url).await.unwrap();
        let mut other = sqlx::MySqlConnection::connect(&database.url).await.unwrap();
        // MariaDB's limit on an idle transaction (MySQL has none: the test's own rollback and
        // dropped connection end it there).
        let _ = sqlx::raw_sql("SET SESSION idle_transaction_timeout = 20")
            .execute(&mut holder)
            .await;
        let holder_id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
            .fetch_one(&mut holder)
            .await
            .unwrap();
        for statement in [
            "BEGIN",
            "INSERT INTO events (version, stream, aggregate_id, timestamp, event) \
             VALUES (1, 'held', 'held', NOW(3), '{\"type\":\"held\"}')",
            "SELECT COUNT(*) FROM events",
        ] {
            sqlx::raw_sql(statement).execute(&mut holder).await.unwrap();
        }
        let opened = Instant::now();

        let nopad: String = sqlx::query_scalar(
            "SELECT CAST(COLLATION_NAME AS CHAR) FROM information_schema.COLLATIONS \
             WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin') \
             ORDER BY COLLATION_NAME DESC LIMIT 1",
        )
        .fetch_one(&mut other)
        .await
        .unwrap();
        sqlx::raw_sql("SET SESSION lock_wait_timeout = 1")
            .execute(&mut other)
            .await
            .unwrap();
        let rebuild =
            format!("ALTER TABLE events CONVERT TO CHARACTER SET utf8mb4 COLLATE {nopad}");
        let blocked = sqlx::raw_sql(sqlx::AssertSqlSafe(rebuild))
            .execute(&mut other)
            .await
            .expect_err("the table rebuild did not wait behind the open transaction");
        assert!(
            blocked.to_string().contains("Lock wait timeout"),
            "expected a lock wait timeout: {blocked}"
        );

        let (workers, migrated, appended) =
            while_held(&database, &store, &appender, "my-held").await;
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?",
        )
        .bind(holder_id)
        .fetch_one(&mut other)
        .await
        .unwrap();
        assert_eq!(open, 1, "the transaction stayed open throughout");
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut holder)
            .await
            .unwrap();
        let held_for = opened.elapsed();
        let _ = holder.close().await;
        let _ = other.close().await;
        eprintln!(
            "MariaDB with an open transaction ({held_for:.2?}): migrate {migrated:.2?}, \
             append {appended:.2?}; {workers}"
        );
        close(store).await;
        close(appender).await;
    });
}

/// On SQLite, another connection holds the write lock (`BEGIN IMMEDIATE` and an insert): on
/// an up-to-date schema `migrate()`, in this process and in a worker, does not wait for it.
/// First, another connection is shown to be refused the write lock.
#[test]
fn sqlite_migrate_does_not_wait_for_a_writer() {
    let _exclusive = exclusive();
    let runtime = runtime();
    let database = runtime.block_on(Database::new(Backend::Sqlite));
    runtime.block_on(async {
        let store = database.store().await;
        store.migrate().await.expect("the first migration failed");
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&database.url).unwrap();
        let mut holder = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        for statement in [
            "BEGIN IMMEDIATE",
            "INSERT INTO events (version, stream, aggregate_id, timestamp, event) \
             VALUES (1, 'held', 'held', 0, '{\"type\":\"held\"}')",
        ] {
            sqlx::raw_sql(statement).execute(&mut holder).await.unwrap();
        }
        let opened = Instant::now();
        // The control: another writer does wait (and, without a busy timeout, fails at once).
        let mut other = sqlx::SqliteConnection::connect_with(&options.busy_timeout(Duration::ZERO))
            .await
            .unwrap();
        let blocked = sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect_err("another connection took the write lock while it was held");
        assert!(
            blocked.to_string().contains("database is locked"),
            "expected SQLITE_BUSY: {blocked}"
        );
        let _ = other.close().await;
        let mut processes = Processes::default();
        for index in 0..MIGRATORS {
            let mut command = database.worker("migrate");
            command.arg(HELD_MIGRATE_CALLS.to_string());
            processes.spawn(&format!("migrator-{index}"), command);
        }
        let started = Instant::now();
        tokio::time::timeout(LOCK_BUDGET, store.migrate())
            .await
            .expect("migrate() waited for the writer")
            .expect("migrate() failed");
        let migrated = started.elapsed();
        let finished = processes.wait_all(Instant::now() + Duration::from_secs(8));
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut holder)
            .await
            .unwrap();
        let held_for = opened.elapsed();
        let _ = holder.close().await;
        let workers = assert_fast_workers(&finished);
        eprintln!(
            "SQLite with a writer ({held_for:.2?}): migrate {migrated:.2?}; {workers}; the held \
             row was rolled back"
        );
        close(store).await;
    });
}

/// Calls of `migrate()` per worker while a transaction is held.
const HELD_MIGRATE_CALLS: u32 = 5;
/// Appends per worker while a transaction is held.
const HELD_APPENDS: u32 = 20;

/// While another session holds its transaction: [`MIGRATORS`] workers migrating
/// [`HELD_MIGRATE_CALLS`] times and [`APPENDERS`] workers appending [`HELD_APPENDS`] events,
/// and in this process `migrate()` and an append (on `appender`, its own pool) at once, each
/// call within [`LOCK_BUDGET`]. Returns the workers' summary and how long the in-process calls
/// took.
async fn while_held(
    database: &Database,
    store: &SqlStore,
    appender: &SqlStore,
    prefix: &str,
) -> (String, Duration, Duration) {
    let mut processes = Processes::default();
    for index in 0..MIGRATORS.max(APPENDERS) {
        if index < APPENDERS {
            let mut command = database.worker("append");
            command
                .arg(HELD_APPENDS.to_string())
                .arg(format!("{prefix}{index}"));
            processes.spawn(&format!("appender-{index}"), command);
        }
        if index < MIGRATORS {
            let mut command = database.worker("migrate");
            command.arg(HELD_MIGRATE_CALLS.to_string());
            processes.spawn(&format!("migrator-{index}"), command);
        }
    }

    let events = [NewEvent {
        version: 1,
        event_type: "appended",
        event: r#"{"type":"appended","n":0}"#.to_owned(),
    }];
    let ((migrated, migrate_took), (appended, append_took)) = tokio::join!(
        timed(store.migrate()),
        timed(appender.append(Append {
            stream: STREAM,
            aggregate_id: "in-process",
            events: &events,
            timestamp: Timestamp::now(),
            metadata: None,
        })),
    );
    migrated
        .expect("migrate() waited behind the open transaction")
        .expect("migrate() failed");
    appended
        .expect("an append waited behind the open transaction")
        .expect("the append failed");
    // Process start and connecting come on top of the calls, which the workers time.
    let finished = processes.wait_all(Instant::now() + Duration::from_secs(8));
    let workers = assert_fast_workers(&finished);
    let stored = count_events(appender).await;
    assert_eq!(
        stored,
        (APPENDERS * HELD_APPENDS as usize + 1) as i64,
        "every committed append is stored"
    );
    (workers, migrate_took, append_took)
}

/// The events of [`STREAM`] in the database.
async fn count_events(store: &SqlStore) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM events WHERE stream = 'migrate_race'";
    match store {
        SqlStore::Sqlite(store) => sqlx::query_scalar(SQL).fetch_one(store.pool()).await,
        SqlStore::Postgres(store) => sqlx::query_scalar(SQL).fetch_one(store.pool()).await,
        SqlStore::MySql(store) => sqlx::query_scalar(SQL).fetch_one(store.pool()).await,
        _ => unreachable!("all backends are compiled in the tests"),
    }
    .expect("cannot count the events")
}

/// A future's outcome within [`LOCK_BUDGET`] (an error when it took longer), and how long it
/// ran.
async fn timed<F: Future>(future: F) -> (Result<F::Output, tokio::time::error::Elapsed>, Duration) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(LOCK_BUDGET, future).await;
    (outcome, started.elapsed())
}

/// Every worker succeeded, each of its calls within [`LOCK_BUDGET`]; a summary.
fn assert_fast_workers(finished: &[Finished]) -> String {
    let mut longest_by_role = BTreeMap::new();
    for done in finished {
        assert!(
            done.status.is_some_and(|status| status.success()),
            "{}",
            done.describe()
        );
        let longest = done
            .stdout
            .lines()
            .filter_map(|line| field::<f64>(line, "ms").or_else(|| field(line, "max_latency_ms")))
            .fold(0.0, f64::max);
        assert!(
            longest < LOCK_BUDGET.as_secs_f64() * 1000.0,
            "{}: a call took {longest:.1} ms while the transaction was open:\n{}",
            done.name,
            done.stdout
        );
        let role = done.name.split('-').next().unwrap_or_default();
        let summary = match role {
            "migrator" => format!("migrated={HELD_MIGRATE_CALLS} "),
            _ => format!("appended={HELD_APPENDS} "),
        };
        assert!(
            done.stdout.lines().any(|line| line.starts_with(&summary)),
            "{}: no `{summary}` summary:\n{}",
            done.name,
            done.stdout
        );
        let entry = longest_by_role.entry(role).or_insert((0, 0.0_f64));
        entry.0 += 1;
        entry.1 = entry.1.max(longest);
    }
    longest_by_role
        .iter()
        .map(|(role, (count, longest))| format!("{count} {role}s, longest call {longest:.1} ms"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Databases and processes.

/// A new database of one backend, by the URL the workers get.
#[derive(Debug)]
struct Database {
    url: String,
    /// The PostgreSQL schema or MariaDB database (empty for SQLite).
    name: String,
}

impl Database {
    async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Database {
                url: format!("{}?mode=rwc", common::sqlite_file_url()),
                name: String::new(),
            },
            Backend::Postgres => {
                let options = common::postgres_schema().await;
                let schema = options
                    .get_options()
                    .and_then(|options| options.split("search_path=").nth(1))
                    .and_then(|rest| rest.split_whitespace().next())
                    .expect("the test schema is the search_path")
                    .to_owned();
                let base = common::postgres_url();
                let separator = if base.contains('?') { '&' } else { '?' };
                Database {
                    url: format!("{base}{separator}options=-c%20search_path%3D{schema}"),
                    name: schema,
                }
            }
            Backend::MySql => {
                let options = common::mysql_database().await;
                let name = options
                    .get_database()
                    .expect("the test database is set")
                    .to_owned();
                Database {
                    url: common::with_database(&common::mysql_url(), &name),
                    name,
                }
            }
        }
    }

    /// A store on it, through the URL the workers get.
    async fn store(&self) -> SqlStore {
        evtstore_sqlx::connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", self.url))
    }

    /// A worker process in `role` on this database; the role's other arguments follow.
    fn worker(&self, role: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_migrate_worker"));
        command
            .args([role, self.url.as_str()])
            // A worker left behind by a killed test exits by itself soon after.
            .args(["--deadline-secs", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// Closes a store's pool, so that its connections do not linger.
async fn close(store: SqlStore) {
    match store {
        SqlStore::Sqlite(store) => store.pool().close().await,
        SqlStore::Postgres(store) => store.pool().close().await,
        SqlStore::MySql(store) => store.pool().close().await,
        _ => unreachable!("all backends are compiled in the tests"),
    }
}

/// The value of `key=value` in a line of a worker's output.
fn field<T: FromStr>(line: &str, key: &str) -> Option<T> {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .and_then(|value| value.parse().ok())
}
