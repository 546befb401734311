//! Fresh databases for the sqlx store tests: every call gives a store on its own empty
//! database (a new file, in-memory database, PostgreSQL schema or MariaDB database), so tests
//! and runs never see each other's data.
//!
//! The servers come from `EVTSTORE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `EVTSTORE_TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306/test`). A server that does not answer fails the test.
#![allow(dead_code, unreachable_pub)]

pub mod processes;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use evtstore_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use evtstore_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use evtstore_sqlx::sqlx::{self, Connection};
use evtstore_sqlx::{MySqlStore, PgStore, SqliteStore, Tables};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// A name no other test of any run uses: the time in seconds (so that leftovers of old runs
/// can be recognised and dropped), the process id and a counter.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}_{}",
        unix_seconds(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Test schemas and databases are named `evt_<seconds>_..`; those older than an hour belong to
/// runs that have ended (a run takes minutes), and are dropped so that they do not pile up on
/// the servers. A test that fails keeps its data for an hour, for a look.
const STALE_AFTER_SECONDS: u64 = 3600;

fn is_stale(name: &str) -> bool {
    let seconds = name
        .strip_prefix("evt_")
        .and_then(|rest| rest.split('_').next());
    seconds
        .and_then(|seconds| seconds.parse::<u64>().ok())
        .is_some_and(|seconds| seconds + STALE_AFTER_SECONDS < unix_seconds())
}

/// Whether this process has already dropped stale test data on a server.
static POSTGRES_SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static MYSQL_SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn sweep_postgres(admin: &mut sqlx::PgConnection) {
    if POSTGRES_SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'evt\\_%'")
            .fetch_all(&mut *admin)
            .await
            .expect("cannot list test schemas");
    for name in names.into_iter().filter(|name| is_stale(name)) {
        // Another process may be dropping the same schema: a failure here is harmless.
        let drop = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&mut *admin)
            .await;
    }
}

async fn sweep_mysql(admin: &mut sqlx::MySqlConnection) {
    if MYSQL_SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
         WHERE schema_name LIKE 'evt\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .expect("cannot list test databases");
    for name in names.into_iter().filter(|name| is_stale(name)) {
        let drop = format!("DROP DATABASE IF EXISTS `{name}`");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&mut *admin)
            .await;
    }
}

pub fn postgres_url() -> String {
    std::env::var("EVTSTORE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

pub fn mysql_url() -> String {
    std::env::var("EVTSTORE_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
}

/// The path of a new SQLite file under cargo's scratch folder for tests.
pub fn sqlite_file_url() -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("evtstore-sqlite");
    std::fs::create_dir_all(&dir).expect("cannot create the SQLite test folder");
    let path = dir.join(format!("{}.db", unique_name("t")));
    format!("sqlite:{}", path.display())
}

/// A migrated store on a new SQLite file.
pub async fn sqlite_file() -> SqliteStore {
    sqlite_file_with(Tables::default()).await
}

pub async fn sqlite_file_with(tables: Tables) -> SqliteStore {
    let store = SqliteStore::connect_with(&sqlite_file_url(), tables, Default::default())
        .await
        .expect("cannot open a SQLite file");
    store.migrate().await.expect("SQLite migration failed");
    store
}

/// A migrated store on a new in-memory SQLite database.
pub async fn sqlite_memory() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("cannot open an in-memory SQLite database");
    store.migrate().await.expect("SQLite migration failed");
    store
}

/// A new, empty PostgreSQL schema; returns the connect options whose `search_path` is it.
pub async fn postgres_schema() -> PgConnectOptions {
    postgres_schema_at(&postgres_url()).await
}

/// [`postgres_schema`] on the server at `url`; panics with a clear message when it does not
/// answer.
pub async fn postgres_schema_at(url: &str) -> PgConnectOptions {
    let options = PgConnectOptions::from_str(url)
        .unwrap_or_else(|error| panic!("EVTSTORE_TEST_POSTGRES_URL `{url}` is invalid: {error}"));
    let mut admin = sqlx::PgConnection::connect_with(&options)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "PostgreSQL at `{url}` does not answer: {error}. Start it, or point \
                 EVTSTORE_TEST_POSTGRES_URL at a server (the tests never skip)"
            )
        });
    sweep_postgres(&mut admin).await;
    let schema = unique_name("evt");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("cannot create a test schema");
    let _ = admin.close().await;
    options.options([("search_path", schema)])
}

/// A migrated store on a new PostgreSQL schema.
pub async fn postgres() -> PgStore {
    postgres_with(Tables::default()).await
}

pub async fn postgres_with(tables: Tables) -> PgStore {
    let store = PgStore::from_pool(postgres_pool(12).await, tables);
    store.migrate().await.expect("PostgreSQL migration failed");
    store
}

/// A pool on a new PostgreSQL schema, nothing created in it.
pub async fn postgres_pool(connections: u32) -> sqlx::PgPool {
    PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(postgres_schema().await)
        .await
        .expect("cannot connect to the test schema")
}

/// A new, empty MariaDB/MySQL database; returns the connect options that use it.
pub async fn mysql_database() -> MySqlConnectOptions {
    mysql_database_at(&mysql_url()).await
}

/// [`mysql_database`] on the server at `url`; panics with a clear message when it does not
/// answer.
pub async fn mysql_database_at(url: &str) -> MySqlConnectOptions {
    let options = MySqlConnectOptions::from_str(url)
        .unwrap_or_else(|error| panic!("EVTSTORE_TEST_MYSQL_URL `{url}` is invalid: {error}"));
    let mut admin = sqlx::MySqlConnection::connect_with(&options)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "MySQL/MariaDB at `{url}` does not answer: {error}. Start it, or point \
                 EVTSTORE_TEST_MYSQL_URL at a server (the tests never skip)"
            )
        });
    sweep_mysql(&mut admin).await;
    let database = unique_name("evt");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .expect("cannot create a test database");
    let _ = admin.close().await;
    options.database(&database)
}

/// A migrated store on a new MariaDB/MySQL database.
pub async fn mysql() -> MySqlStore {
    mysql_with(Tables::default()).await
}

pub async fn mysql_with(tables: Tables) -> MySqlStore {
    let store = MySqlStore::from_pool(mysql_pool(12).await, tables);
    store.migrate().await.expect("MySQL migration failed");
    store
}

/// A pool on a new MariaDB/MySQL database, nothing created in it.
pub async fn mysql_pool(connections: u32) -> sqlx::MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(connections)
        .connect_with(mysql_database().await)
        .await
        .expect("cannot connect to the test database")
}

/// Runs one raw SQL statement on the store's own database (to plant rows the store would never
/// write, or to create tables before `migrate`).
pub async fn exec(store: &evtstore_sqlx::SqlStore, sql: &str) {
    let statement = sqlx::AssertSqlSafe(sql.to_owned());
    let done = match store {
        evtstore_sqlx::SqlStore::Sqlite(store) => sqlx::raw_sql(statement)
            .execute(store.pool())
            .await
            .map(drop),
        evtstore_sqlx::SqlStore::Postgres(store) => sqlx::raw_sql(statement)
            .execute(store.pool())
            .await
            .map(drop),
        evtstore_sqlx::SqlStore::MySql(store) => sqlx::raw_sql(statement)
            .execute(store.pool())
            .await
            .map(drop),
        _ => unreachable!("all backends are compiled in the tests"),
    };
    done.unwrap_or_else(|error| panic!("raw SQL failed: {error}\n{sql}"));
}

/// Which backend a store is, to pick the SQL dialect of raw statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

/// A store of each backend on a fresh database, not migrated.
pub async fn unmigrated(backend: Backend) -> evtstore_sqlx::SqlStore {
    match backend {
        Backend::Sqlite => evtstore_sqlx::SqlStore::Sqlite(
            SqliteStore::connect(&sqlite_file_url())
                .await
                .expect("cannot open a SQLite file"),
        ),
        Backend::Postgres => evtstore_sqlx::SqlStore::Postgres(PgStore::from_pool(
            postgres_pool(8).await,
            Tables::default(),
        )),
        Backend::MySql => evtstore_sqlx::SqlStore::MySql(MySqlStore::from_pool(
            mysql_pool(8).await,
            Tables::default(),
        )),
    }
}

/// The TypeScript library's DDL for each backend (knex for SQLite and MySQL, its pg provider),
/// then one event and one bookmark as it stores them.
pub fn typescript_tables(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Sqlite => &[
            "CREATE TABLE `events` (`position` integer not null primary key autoincrement, \
             `version` integer, `stream` varchar(255), `aggregate_id` varchar(255), \
             `timestamp` datetime, `event` text)",
            "CREATE UNIQUE INDEX `events_stream_position_unique` on `events` (`stream`, `position`)",
            "CREATE UNIQUE INDEX `events_stream_aggregate_id_version_unique` on `events` \
             (`stream`, `aggregate_id`, `version`)",
            "CREATE TABLE `bookmarks` (`bookmark` varchar(255), `position` bigint, \
             primary key (`bookmark`))",
            r#"INSERT INTO events (version, stream, aggregate_id, timestamp, event) VALUES
               (1, 'users', 'alice', 1795712510893, '{"type":"created","name":"alice"}')"#,
            "INSERT INTO bookmarks (bookmark, position) VALUES ('users-model', 1)",
        ],
        Backend::Postgres => &[
            "CREATE TABLE events (position bigserial primary key, version integer, \
             stream varchar(255), aggregate_id varchar(255), timestamp timestamptz, event text, \
             CONSTRAINT events_stream_aggregate_id_version_unique UNIQUE (stream, aggregate_id, version), \
             CONSTRAINT events_stream_position_unique UNIQUE (stream, position))",
            "CREATE TABLE bookmarks (bookmark varchar(255) primary key, position bigint)",
            r#"INSERT INTO events (version, stream, aggregate_id, timestamp, event) VALUES
               (1, 'users', 'alice', to_timestamp(1795712510.893), '{"type":"created","name":"alice"}')"#,
            "INSERT INTO bookmarks (bookmark, position) VALUES ('users-model', 1)",
        ],
        Backend::MySql => &[
            "CREATE TABLE `events` (`position` bigint unsigned not null auto_increment primary key, \
             `version` int, `stream` varchar(255), `aggregate_id` varchar(255), \
             `timestamp` datetime, `event` text)",
            "ALTER TABLE `events` ADD UNIQUE `events_stream_position_unique`(`stream`, `position`)",
            "ALTER TABLE `events` ADD UNIQUE \
             `events_stream_aggregate_id_version_unique`(`stream`, `aggregate_id`, `version`)",
            "CREATE TABLE `bookmarks` (`bookmark` varchar(255), `position` bigint, \
             primary key (`bookmark`))",
            r#"INSERT INTO events (version, stream, aggregate_id, timestamp, event) VALUES
               (1, 'users', 'alice', FROM_UNIXTIME(1795712510), '{"type":"created","name":"alice"}')"#,
            "INSERT INTO bookmarks (bookmark, position) VALUES ('users-model', 1)",
        ],
    }
}

/// `url` (`scheme://authority/database?query`) naming another database.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// A new, empty database of `backend` and the URL that reaches it from another process.
pub async fn database_url(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => sqlite_file_url(),
        Backend::Postgres => {
            let options = postgres_schema().await;
            let schema = options
                .get_options()
                .and_then(|options| options.split("search_path=").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
                .expect("the test schema is set as search_path")
                .to_owned();
            with_query(
                &postgres_url(),
                &format!("options=-csearch_path%3D{schema}"),
            )
        }
        Backend::MySql => {
            let options = mysql_database().await;
            let database = options
                .get_database()
                .expect("the test database is set")
                .to_owned();
            with_database(&mysql_url(), &database)
        }
    }
}

/// `url` with one more query parameter.
pub fn with_query(url: &str, parameter: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{parameter}")
}
