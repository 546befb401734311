//! The MySQL/MariaDB store.
//!
//! Positions come from the events table's `AUTO_INCREMENT`, taken by one autocommit
//! `INSERT .. SELECT` per append, which holds InnoDB's table-level AUTO-INC lock until it
//! commits: appends take positions, enter the primary key and commit in position order. A read
//! first finds the settled position, the table's last one, with a locking read that waits for
//! that row's append to commit; every position at or below it is then committed. It then reads
//! its page with a plain consistent read bounded by it. Together they make reading by position
//! gap-free (see `sql/mysql/settled_position.sql` and `sql/mysql/read.sql`). Handlers catching
//! up read ranges of positions up to one settled position, two ranges' queries at a time
//! (`read_ranges.rs`).
//!
//! Why not a consistent read alone: InnoDB builds a read view by walking its lock-free hash of
//! running transactions without a lock (`trx_sys.snapshot_ids` iterating `rw_trx_hash`). A
//! reader paused in that walk can record transaction A as running, and then, after A commits
//! and B (which waited for A's lock) commits too, miss B's entry: the view sees B's position
//! 7155 and not A's 7154. No ordering of the writers fixes that; the first release serialised
//! them through a locked sequence row and still skipped events. Bounded by the settled
//! position, which was committed before the view's walk began, a read cannot meet B. (The
//! release before this one read with a locking read, which uses no read view but takes a
//! shared lock on every row it returns: catch-up ran at about half the speed of a plain
//! read.) Cursors carry no commit key (`commit` is 0).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use evtstore::{Append, Cursor, Error, Page, RecordedEvent, Replayed, Store, Wakeups};
use sqlx::mysql::{
    MySql, MySqlArguments, MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions,
    MySqlRow,
};
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Connection, Executor};
use tokio::sync::OnceCell;

use crate::Tables;
use crate::common::{
    CheckColumns, Decoding, Known, MAX_NAME_CHARS, Positions, ReplayColumns, Replaying, RowRef,
    appending, check_name, conflict, db_error, decode_event_of, decode_streamed, each_row,
    first_version, read_event_row, replay_from_snapshot, statements, version_bound,
};
use crate::read_ahead::{FetchRows, Outbox, ReadAhead, read_query_after_query};
use crate::store_methods::{SharedSql, shared_sql_files, shared_store_methods, sql};

mod columns;
mod read_ranges;

/// MySQL's error number for a duplicate key.
const DUPLICATE_KEY: u16 = 1062;

/// How long `migrate()` waits for another process's migration of the same tables.
const MIGRATION_LOCK_SECONDS: u32 = 120;

#[derive(Debug)]
struct Sql {
    migrate: String,
    schema_columns: Arc<str>,
    nopad_collation: Arc<str>,
    add_metadata: Arc<str>,
    add_claim_columns: Arc<str>,
    position_auto_increment: Arc<str>,
    convert_collation: String,
    append: String,
    append_one: Arc<str>,
    append_first: Arc<str>,
    load: Arc<str>,
    replay_snapshot: Arc<str>,
    replay_events: Arc<str>,
    replay_versions: Arc<str>,
    read: String,
    settled_position: Arc<str>,
    last_position: String,
    count_between: String,
    shared: SharedSql,
    legacy: LegacySql,
}

/// The statements of the first release's position sequence, kept for the stress test that shows
/// what it skipped (`MySqlStore::legacy_sequence_positions`).
#[derive(Debug)]
struct LegacySql {
    sequence: String,
    allocate: Arc<str>,
    append: String,
}

impl Sql {
    fn new(tables: &Tables) -> Self {
        let render = |template: &str| Arc::from(tables.render(template));
        Sql {
            migrate: tables.render(include_str!("../sql/mysql/migrate.sql")),
            schema_columns: render(include_str!("../sql/mysql/schema_columns.sql")),
            nopad_collation: render(include_str!("../sql/mysql/nopad_collation.sql")),
            add_metadata: render(include_str!("../sql/mysql/add_metadata.sql")),
            add_claim_columns: render(include_str!("../sql/mysql/add_claim_columns.sql")),
            position_auto_increment: render(include_str!(
                "../sql/mysql/position_auto_increment.sql"
            )),
            convert_collation: include_str!("../sql/mysql/convert_collation.sql").to_owned(),
            append: tables.render(include_str!("../sql/mysql/append.sql")),
            append_one: render(include_str!("../sql/mysql/append_one.sql")),
            append_first: render(include_str!("../sql/mysql/append_first.sql")),
            load: render(include_str!("../sql/mysql/load.sql")),
            replay_snapshot: render(include_str!("../sql/mysql/replay_snapshot.sql")),
            replay_events: render(include_str!("../sql/mysql/replay_events.sql")),
            replay_versions: render(include_str!("../sql/mysql/replay_versions.sql")),
            read: tables.render(include_str!("../sql/mysql/read.sql")),
            settled_position: render(include_str!("../sql/mysql/settled_position.sql")),
            last_position: tables.render(include_str!("../sql/mysql/last_position.sql")),
            count_between: tables.render(include_str!("../sql/mysql/count_between.sql")),
            shared: SharedSql::new(
                tables,
                &shared_sql_files!("mysql", plain_fenced = "bookmark_fenced"),
            ),
            legacy: LegacySql {
                sequence: tables.render(include_str!("../sql/mysql/legacy_sequence.sql")),
                allocate: render(include_str!("../sql/mysql/legacy_allocate.sql")),
                append: tables.render(include_str!("../sql/mysql/legacy_append.sql")),
            },
        }
    }

    /// The append statement for `count` events.
    fn append(&self, count: usize) -> String {
        let rows = vec!["SELECT ? AS v, ? AS e"; count].join(" UNION ALL ");
        self.append.replace("{rows}", &rows)
    }

    /// The first release's append statement for `count` events.
    fn legacy_append(&self, count: usize) -> String {
        let rows = vec!["SELECT ? AS p, ? AS v, ? AS e"; count].join(" UNION ALL ");
        self.legacy.append.replace("{rows}", &rows)
    }

    /// A statement taking a list of streams, with one placeholder per stream. An event query
    /// of one stream selects NULL for its stream column (`read.sql`): the caller knows it.
    fn with_streams(template: &str, count: usize) -> String {
        let placeholders = vec!["?"; count.max(1)].join(", ");
        let stream_column = if count == 1 { "NULL" } else { "`stream`" };
        template
            .replace("{streams}", &placeholders)
            .replace("{stream_column}", stream_column)
    }
}

/// Binds a bookmark's cursor: MySQL positions need no commit key.
fn bind_cursor(
    query: sqlx::query::Query<'_, MySql, MySqlArguments>,
    cursor: Cursor,
) -> sqlx::query::Query<'_, MySql, MySqlArguments> {
    query.bind(cursor.position)
}

/// A [`Store`] on MySQL or MariaDB.
///
/// ```no_run
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use evtstore_sqlx::MySqlStore;
///
/// let store = MySqlStore::connect("mysql://root@127.0.0.1/app").await?;
/// store.migrate().await?;
/// # Ok::<_, evtstore::Error>(())
/// # }).unwrap();
/// ```
///
/// The server must run InnoDB with `innodb_autoinc_lock_mode` 0 or 1 (MariaDB's default; MySQL
/// 8 defaults to 2): appends rely on its table-level AUTO-INC lock to enter positions in order.
/// The store checks this once and refuses to write or read with a [`Error::Config`] otherwise.
///
/// A handler catching up reads with two of the pool's connections at a time (the next range
/// of positions is queried while the rows of the current one arrive), and for a moment three
/// when a range comes back fuller than one query brings; with one only, when the pool could
/// not lend another and keep one idle, so that catching up never takes the last connection
/// from the commands. The store's own pool keeps sqlx's default of 10 connections.
#[derive(Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
    tables: Arc<Tables>,
    sql: Arc<Sql>,
    /// Whether the server's AUTO-INC lock mode was found fit, checked at the first use.
    server_checked: Arc<OnceCell<()>>,
    /// Whether the pool was made by the store, with `READ COMMITTED` sessions.
    owns_pool: bool,
    legacy: bool,
    /// Woken after each append through this store (and its clones).
    wakeups: Arc<Wakeups>,
    /// Woken when a claim is let go through this store (and, on PostgreSQL, by any process).
    releases: Arc<Wakeups>,
    read_ahead: ReadAhead,
}

impl fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlStore")
            .field("tables", &self.tables)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl MySqlStore {
    /// Connects with the default [`Tables`]. A `mariadb:` scheme is read as `mysql:`. Does
    /// not create the tables: call [`migrate`](Self::migrate).
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that does not parse, [`Error::Database`] when the server
    /// does not answer.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, Tables::default()).await
    }

    /// Connects with explicit table names.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(url: &str, tables: Tables) -> Result<Self, Error> {
        let url = match url.split_once(':') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
                format!("mysql:{rest}")
            }
            _ => url.to_owned(),
        };
        let options = MySqlConnectOptions::from_str(&url)
            .map_err(|error| Error::Config(format!("invalid MySQL URL: {error}")))?;
        let pool = Self::pool_options()
            .connect_with(options)
            .await
            .map_err(|error| db_error("connecting to MySQL", error))?;
        let mut store = Self::from_pool(pool, tables);
        store.owns_pool = true;
        Ok(store)
    }

    /// Pool options whose connections run at `READ COMMITTED`, as the store's own pool does.
    /// Each read starts with a locking read of the last row: at the default `REPEATABLE READ`
    /// it also locks the gap after that row, and appends wait for it. Use these options for a
    /// pool handed to [`from_pool`](Self::from_pool).
    #[must_use]
    pub fn pool_options() -> MySqlPoolOptions {
        MySqlPoolOptions::new().after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                Ok(())
            })
        })
    }

    /// A store over an existing pool. Its connections should keep sqlx's default UTC
    /// `time_zone` (timestamps are stored as `DATETIME` in the session's time zone) and run at
    /// `READ COMMITTED`, where appends and the locking read of the settled position take no
    /// gap locks (at `REPEATABLE READ` appends of one aggregate can deadlock). The store cannot
    /// tell how the pool's sessions were set up, so it switches each connection it appends or
    /// reads on to `READ COMMITTED` first, which costs a round trip; a store from
    /// [`connect`](Self::connect) does not need it.
    pub fn from_pool(pool: MySqlPool, tables: Tables) -> Self {
        let sql = Arc::new(Sql::new(&tables));
        MySqlStore {
            pool,
            tables: Arc::new(tables),
            sql,
            server_checked: Arc::new(OnceCell::new()),
            owns_pool: false,
            legacy: false,
            wakeups: Arc::default(),
            releases: Arc::default(),
            read_ahead: ReadAhead::default(),
        }
    }

    /// The first release's positions and reads: a one-row sequence table locked by each append
    /// until it commits, and consistent reads. It skips events under concurrent readers (see
    /// the module docs); it is kept only so that the workspace's multi-process stress test can
    /// show that it catches the skip. Not for use.
    #[doc(hidden)]
    #[must_use]
    pub fn legacy_sequence_positions(mut self) -> Self {
        self.legacy = true;
        self
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The table names.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Creates the tables that are missing and brings existing ones up to date: adds the
    /// `metadata` column a database written by the TypeScript evtstore lacks, makes positions
    /// `AUTO_INCREMENT` on tables of the first release, and converts tables whose text pads
    /// with spaces to the no-pad binary collation.
    ///
    /// Safe to call from every process at every start: it first reads the schema from
    /// `information_schema` without any lock, and on an up-to-date schema does nothing else.
    /// Otherwise it takes a named lock (`GET_LOCK`) so that one process changes the schema at
    /// a time, and checks again under it. A conversion rebuilds its table once and blocks
    /// writes while it runs. (MySQL commits each DDL statement on its own: a failure can leave
    /// part of the schema changed; running it again completes it.)
    ///
    /// # Errors
    /// [`Error::Database`] when a statement fails, [`Error::Config`] when the server's
    /// `innodb_autoinc_lock_mode` is 2.
    pub async fn migrate(&self) -> Result<(), Error> {
        let operation = format!("migrating the MySQL schema ({})", self.tables);
        self.check_server().await?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|error| db_error(&operation, error))?;
        let collation = self.nopad_collation(&mut conn, &operation).await?;
        let needed = self
            .schema_changes(&mut conn, &collation, &operation)
            .await?;
        if needed.is_empty() && !self.legacy {
            return Ok(());
        }
        // A connection of its own, closed when dropped: a migration cancelled half-way never
        // returns a connection holding the named lock to the pool.
        let mut conn = conn.detach();
        let locked = self.lock_migration(&mut conn, &operation).await;
        let migrated = match locked {
            Ok(()) => {
                self.apply_schema_changes(&mut conn, &collation, &operation)
                    .await
            }
            Err(error) => Err(error),
        };
        // Closing the connection releases the named lock whatever happened.
        let closed = conn
            .close()
            .await
            .map_err(|error| db_error(&operation, error));
        migrated.and(closed)
    }

    /// Takes the named lock that serialises migrations of these tables.
    async fn lock_migration(
        &self,
        conn: &mut MySqlConnection,
        operation: &str,
    ) -> Result<(), Error> {
        // Lock names are server-wide and at most 64 characters: the database and table name,
        // hashed.
        let granted: Option<i64> = sqlx::query_scalar(
            "SELECT GET_LOCK(CONCAT('evtstore-migrate-', SHA1(CONCAT(DATABASE(), '.', ?))), ?)",
        )
        .bind(self.tables.events())
        .bind(MIGRATION_LOCK_SECONDS)
        .fetch_one(&mut *conn)
        .await
        .map_err(|error| db_error(operation, error))?;
        if granted == Some(1) {
            Ok(())
        } else {
            Err(Error::database(
                operation,
                format!("another process kept the migration lock for {MIGRATION_LOCK_SECONDS} s"),
            ))
        }
    }

    /// Applies what [`schema_changes`](Self::schema_changes) finds missing, reading it again
    /// under the migration lock (another process may have just done it).
    async fn apply_schema_changes(
        &self,
        conn: &mut MySqlConnection,
        collation: &str,
        operation: &str,
    ) -> Result<(), Error> {
        let needed = self
            .schema_changes(&mut *conn, collation, operation)
            .await?;
        let mut run = Vec::new();
        for change in &needed {
            match change {
                SchemaChange::CreateTables => run.extend(
                    statements(&self.sql.migrate.replace("{collation}", collation))
                        .map(str::to_owned),
                ),
                SchemaChange::AddMetadata => run.push(self.sql.add_metadata.to_string()),
                SchemaChange::AddClaimColumns => run.push(self.sql.add_claim_columns.to_string()),
                SchemaChange::PositionAutoIncrement => {
                    run.push(self.sql.position_auto_increment.to_string());
                }
                SchemaChange::Collation(table) => run.push(
                    self.sql
                        .convert_collation
                        .replace("{table}", table)
                        .replace("{collation}", collation),
                ),
            }
        }
        if self.legacy {
            run.extend(statements(&self.sql.legacy.sequence).map(str::to_owned));
        }
        for statement in run {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut *conn)
                .await
                .map_err(|error| db_error(operation, error))?;
        }
        Ok(())
    }

    /// The server's no-pad binary utf8mb4 collation.
    async fn nopad_collation(
        &self,
        conn: &mut MySqlConnection,
        operation: &str,
    ) -> Result<String, Error> {
        let collation: Option<String> = sqlx::query_scalar(sql(&self.sql.nopad_collation))
            .fetch_optional(&mut *conn)
            .await
            .map_err(|error| db_error(operation, error))?;
        collation.ok_or_else(|| {
            Error::Config(
                "the server has no no-pad binary utf8mb4 collation (utf8mb4_nopad_bin on \
                 MariaDB 10.2+, utf8mb4_0900_bin on MySQL 8)"
                    .to_owned(),
            )
        })
    }

    /// What the existing tables lack, read from `information_schema` without taking a lock.
    async fn schema_changes(
        &self,
        conn: &mut MySqlConnection,
        collation: &str,
        operation: &str,
    ) -> Result<Vec<SchemaChange>, Error> {
        let rows: Vec<SchemaColumn> = sqlx::query_as(sql(&self.sql.schema_columns))
            .fetch_all(&mut *conn)
            .await
            .map_err(|error| db_error(operation, error))?;
        let columns: HashMap<(&str, &str), &SchemaColumn> = rows
            .iter()
            .map(|row| ((row.0.as_str(), row.1.as_str()), row))
            .collect();
        let tables = &*self.tables;
        let has_table = |table: &str| columns.keys().any(|(name, _)| *name == table);
        let mut needed = Vec::new();
        if ![tables.events(), tables.bookmarks(), tables.snapshots()]
            .into_iter()
            .all(has_table)
        {
            needed.push(SchemaChange::CreateTables);
        }
        if has_table(tables.events()) {
            if !columns.contains_key(&(tables.events(), "metadata")) {
                needed.push(SchemaChange::AddMetadata);
            }
            let auto_increment = columns
                .get(&(tables.events(), "position"))
                .and_then(|(_, _, extra, _)| extra.as_deref())
                .is_some_and(|extra| extra.to_ascii_lowercase().contains("auto_increment"));
            if !auto_increment {
                needed.push(SchemaChange::PositionAutoIncrement);
            }
        }
        if has_table(tables.bookmarks())
            && !columns.contains_key(&(tables.bookmarks(), "lease_until"))
        {
            needed.push(SchemaChange::AddClaimColumns);
        }
        for (table, column) in [
            (tables.events(), "aggregate_id"),
            (tables.bookmarks(), "bookmark"),
            (tables.snapshots(), "aggregate_id"),
        ] {
            if let Some((_, _, _, Some(found))) = columns.get(&(table, column))
                && !found.eq_ignore_ascii_case(collation)
            {
                needed.push(SchemaChange::Collation(table.to_owned()));
            }
        }
        Ok(needed)
    }

    /// Checks once that the server enters AUTO_INCREMENT positions under a table lock held for
    /// each `INSERT .. SELECT` (lock modes 0 and 1); mode 2 interleaves them, and reads could
    /// skip events.
    async fn check_server(&self) -> Result<(), Error> {
        self.server_checked
            .get_or_try_init(|| async {
                let mode: i64 =
                    sqlx::query_scalar("SELECT CAST(@@GLOBAL.innodb_autoinc_lock_mode AS SIGNED)")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|error| db_error("reading innodb_autoinc_lock_mode", error))?;
                if mode == 2 {
                    return Err(Error::Config(
                        "the server runs with innodb_autoinc_lock_mode = 2, which hands out \
                         AUTO_INCREMENT positions to concurrent inserts out of order; evtstore \
                         needs 0 or 1 (MariaDB's default) to read events without gaps: set \
                         innodb_autoinc_lock_mode = 1 in the server's configuration"
                            .to_owned(),
                    ));
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// A connection for the statements that lock (appends, reads): at `READ COMMITTED`, where
    /// they take no gap locks. On a pool it was given the store switches each such connection
    /// first, as it cannot know how the pool's sessions were set up; its own pool's sessions
    /// start at `READ COMMITTED` ([`pool_options`](Self::pool_options)).
    async fn connection(&self) -> Result<PoolConnection<MySql>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        if !self.owns_pool {
            conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                .await?;
        }
        Ok(conn)
    }

    async fn insert(&self, append: &Append<'_>, first: i64) -> Result<u64, sqlx::Error> {
        // One event, the usual command: a statement without a derived table (about a third
        // less server time than append.sql's form for one row).
        if let [event] = append.events {
            let query = if first == 1 {
                sqlx::query(sql(&self.sql.append_first))
                    .bind(append.stream)
                    .bind(append.aggregate_id)
                    .bind(append.timestamp.as_millis())
                    .bind(event.event.as_str())
                    .bind(append.metadata)
            } else {
                sqlx::query(sql(&self.sql.append_one))
                    .bind(append.stream)
                    .bind(append.aggregate_id)
                    .bind(first)
                    .bind(append.timestamp.as_millis())
                    .bind(event.event.as_str())
                    .bind(append.metadata)
                    .bind(append.stream)
                    .bind(append.aggregate_id)
                    .bind(first - 1)
            };
            let mut conn = self.connection().await?;
            return Ok(query.execute(&mut *conn).await?.rows_affected());
        }
        let count = append.events.len();
        // Placeholders in text order (see append.sql).
        let mut query = sqlx::query(AssertSqlSafe(self.sql.append(count)))
            .bind(append.stream)
            .bind(append.aggregate_id)
            .bind(append.timestamp.as_millis())
            .bind(append.metadata);
        for (offset, event) in append.events.iter().enumerate() {
            query = query.bind(first + offset as i64).bind(event.event.as_str());
        }
        let query = query
            .bind(first)
            .bind(append.stream)
            .bind(append.aggregate_id)
            .bind(first - 1);
        Ok(query
            .execute(&mut *self.connection().await?)
            .await?
            .rows_affected())
    }

    /// The first release's append, for [`legacy_sequence_positions`](Self::legacy_sequence_positions).
    async fn legacy_insert(&self, append: &Append<'_>, first: i64) -> Result<u64, sqlx::Error> {
        let count = append.events.len();
        let mut tx = self.pool.begin().await?;
        let allocated = sqlx::query(sql(&self.sql.legacy.allocate))
            .bind(count as u64)
            .execute(&mut *tx)
            .await?;
        let last = allocated.last_insert_id();
        let first_position = last + 1 - count as u64;
        let mut query = sqlx::query(AssertSqlSafe(self.sql.legacy_append(count)))
            .bind(append.stream)
            .bind(append.aggregate_id)
            .bind(append.timestamp.as_millis())
            .bind(append.metadata);
        for (offset, event) in append.events.iter().enumerate() {
            query = query
                .bind(first_position + offset as u64)
                .bind(first + offset as i64)
                .bind(event.event.as_str());
        }
        let inserted = query
            .bind(append.stream)
            .bind(append.aggregate_id)
            .bind(first - 1)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(inserted)
    }

    /// [`Store::append`], inside its span.
    async fn append_in_span(&self, append: &Append<'_>) -> Result<(), Error> {
        check_name("stream", append.stream, MAX_NAME_CHARS)?;
        check_name("aggregate id", append.aggregate_id, MAX_NAME_CHARS)?;
        let Some(first) = first_version(append)? else {
            return Ok(());
        };
        self.check_server().await?;
        let inserted = if self.legacy {
            self.legacy_insert(append, first).await
        } else {
            self.insert(append, first).await
        };
        match inserted {
            Ok(rows) if rows == append.events.len() as u64 => {
                self.wakeups.notify();
                Ok(())
            }
            Ok(_) => Err(conflict(append)),
            Err(error) if is_duplicate_version(&error) => Err(conflict(append)),
            Err(error) => Err(db_error(appending(append), error)),
        }
    }

    /// [`Store::load`], inside its span.
    async fn load_in_span(
        &self,
        stream: &str,
        aggregate_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let operation = format!("loading {stream}/{aggregate_id}");
        let rows = sqlx::query(sql(&self.sql.load))
            .bind(stream)
            .bind(aggregate_id)
            .bind(version_bound(after_version))
            .fetch(&self.pool);
        decode_streamed(rows, &operation, |row, first| {
            if first {
                columns::check_event_columns(row, &operation)?;
            }
            decode_event_of(
                row,
                (stream, aggregate_id),
                Decoding::MySqlChecked,
                &operation,
            )
        })
        .await
    }
}

/// A row of `schema_columns.sql`: table, column, `EXTRA` (`auto_increment`, ..), collation.
type SchemaColumn = (String, String, Option<String>, Option<String>);

/// A change `migrate()` makes to bring the tables up to date.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SchemaChange {
    /// One of the tables is missing: the idempotent `migrate.sql`.
    CreateTables,
    /// The events table of the TypeScript evtstore has no `metadata` column.
    AddMetadata,
    /// The bookmarks table (of the TypeScript evtstore, or of an earlier release) has no claim
    /// columns.
    AddClaimColumns,
    /// Positions of the first release came from a sequence table.
    PositionAutoIncrement,
    /// A table whose text pads with spaces.
    Collation(String),
}

/// What a read of `streams` after `after` is, for error messages.
fn reading<S: fmt::Debug>(streams: &[S], after: i64) -> String {
    format!("reading {streams:?} after position {after}")
}

impl MySqlStore {
    /// The settled position (see `sql/mysql/settled_position.sql`): every position at or below
    /// it is committed and visible to any read view opened after this returns; 0 for an empty
    /// table.
    async fn settled_position(&self, conn: &mut MySqlConnection) -> Result<i64, sqlx::Error> {
        let last: Option<i64> = sqlx::query_scalar(sql(&self.sql.settled_position))
            .fetch_optional(conn)
            .await?;
        Ok(last.unwrap_or(0))
    }

    /// Up to `rows` rows of `streams` with positions in `after..=upto`, in order, each handed
    /// to `keep` as it is decoded; returns how many there were. Gap-free when `upto` is at or
    /// below a settled position read before this started.
    async fn read_between(
        &self,
        conn: &mut MySqlConnection,
        streams: &[&str],
        (after, upto): (i64, i64),
        rows: usize,
        keep: &mut (dyn FnMut(RowRef<'_>) + Send),
    ) -> Result<usize, Error> {
        let operation = reading(streams, after);
        let mut query = sqlx::query(AssertSqlSafe(Sql::with_streams(
            &self.sql.read,
            streams.len(),
        )))
        .bind(after)
        .bind(upto);
        for stream in streams {
            query = query.bind(*stream);
        }
        let found = query
            .bind(i64::try_from(rows).unwrap_or(i64::MAX))
            .fetch(conn);
        // The stream of a one-stream read comes back NULL (`Sql::with_streams`).
        let known = Known {
            stream: match streams {
                [stream] => Some(*stream),
                _ => None,
            },
            aggregate_id: None,
        };
        each_row(found, &operation, |row, first| {
            if first {
                columns::check_event_columns(row, &operation)?;
            }
            keep(read_event_row(
                row,
                known,
                Decoding::MySqlChecked,
                &operation,
            )?);
            Ok(())
        })
        .await
    }
}

impl FetchRows for MySqlStore {
    /// One read of up to `rows` rows after `after`, each handed to `keep` as it is decoded;
    /// returns how many there were. The rows are those at or below the settled position, read
    /// first on the same connection; a read that comes back short of it may miss only rows
    /// that settle later, and the next read finds them. With the first release's positions
    /// (`legacy`) there is no settled position, and the read is not gap-free: `read` collects
    /// one page of it and keeps nothing ahead. Handlers catching up otherwise read through
    /// [`read_ahead`](FetchRows::read_ahead).
    async fn fetch_rows(
        &self,
        streams: &[&str],
        after: Cursor,
        rows: usize,
        keep: &mut (dyn FnMut(RowRef<'_>) + Send),
    ) -> Result<usize, Error> {
        let operation = reading(streams, after.position);
        let mut conn = self
            .connection()
            .await
            .map_err(|error| db_error(&operation, error))?;
        let settled = if self.legacy {
            i64::MAX
        } else {
            self.settled_position(&mut conn)
                .await
                .map_err(|error| db_error(&operation, error))?
        };
        if settled <= after.position {
            return Ok(0);
        }
        self.read_between(&mut conn, streams, (after.position, settled), rows, keep)
            .await
    }

    /// Reads in ranges of positions up to one settled position, the next range's query
    /// running while the rows of the one before are received (see `read_ranges.rs`). Legacy
    /// reads never come here (`read` collects them one page at a time); were one to, it would
    /// read query after query, as a store without a settled position must.
    async fn read_ahead(self, streams: Vec<String>, after: Cursor, outbox: Outbox) {
        if self.legacy {
            read_query_after_query(self, streams, after, outbox).await;
        } else {
            read_ranges::read_by_ranges(self, streams, after, outbox).await;
        }
    }
}

fn is_duplicate_version(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .is_some_and(|mysql| mysql.number() == DUPLICATE_KEY && mysql.message().contains("version"))
}

impl MySqlStore {
    /// `replay` and `replay_without_positions`: the events' statement, its rows decoded as
    /// they stream; with a snapshot tag, the snapshot's statement first
    /// (`replay_snapshot.sql`).
    async fn replay_rows<F>(
        &self,
        (stream, aggregate_id, after_version): (&str, &str, u64),
        snapshot_tag: Option<&str>,
        positions: Positions,
        visit: F,
    ) -> Result<(), Error>
    where
        F: FnMut(Replayed<'_>) -> Result<(), Error> + Send,
    {
        let (columns, check, statement): (_, CheckColumns<MySqlRow>, _) = match positions {
            Positions::Read => (
                ReplayColumns::EventsOnly,
                columns::check_replay_event_columns,
                &self.sql.replay_events,
            ),
            Positions::Skip => (
                ReplayColumns::VersionsAndEvents,
                columns::check_replay_version_columns,
                &self.sql.replay_versions,
            ),
        };
        let events = |bound: i64| {
            sqlx::query(sql(statement))
                .bind(stream)
                .bind(aggregate_id)
                .bind(bound)
                .fetch(&self.pool)
        };
        let operation = Replaying::new(stream, aggregate_id, after_version, columns);
        let snapshot = snapshot_tag.map(|tag| {
            sqlx::query(sql(&self.sql.replay_snapshot))
                .bind(stream)
                .bind(aggregate_id)
                .bind(stream)
                .bind(aggregate_id)
                .bind(tag)
                .bind(version_bound(after_version))
                .fetch_optional(&self.pool)
        });
        replay_from_snapshot(&operation, snapshot, events, Some(check), visit).await
    }
}

impl Store for MySqlStore {
    async fn read_page(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> Result<Page, Error> {
        if streams.is_empty() || limit == 0 {
            return Ok(Page::default());
        }
        self.check_server().await?;
        if self.legacy {
            // These reads are not gap-free: nothing may be kept from them.
            return self.fetch_page(streams, after, limit).await;
        }
        // A read up to the settled position sees every row at or below its last one, so the
        // rows of a larger read are exactly what the next reads would return (see
        // `read_ahead`).
        match self.read_ahead.page(self, streams, after, limit).await? {
            Ok(page) | Err(page) => Ok(page),
        }
    }

    async fn last_cursor(&self, streams: &[&str]) -> Result<Cursor, Error> {
        if streams.is_empty() {
            return Ok(Cursor::START);
        }
        let mut query = sqlx::query_scalar(AssertSqlSafe(Sql::with_streams(
            &self.sql.last_position,
            streams.len(),
        )));
        for stream in streams {
            query = query.bind(*stream);
        }
        let operation = format!("finding the end of {streams:?}");
        let mut conn = self
            .connection()
            .await
            .map_err(|error| db_error(&operation, error))?;
        let position: Option<i64> = query
            .fetch_optional(&mut *conn)
            .await
            .map_err(|error| db_error(&operation, error))?;
        Ok(position.map_or(Cursor::START, Cursor::at))
    }

    async fn count_between(
        &self,
        streams: &[&str],
        after: Cursor,
        until: Cursor,
    ) -> Result<u64, Error> {
        if streams.is_empty() {
            return Ok(0);
        }
        let mut query = sqlx::query_scalar(AssertSqlSafe(Sql::with_streams(
            &self.sql.count_between,
            streams.len(),
        )))
        .bind(after.position)
        .bind(until.position);
        for stream in streams {
            query = query.bind(*stream);
        }
        let count: i64 = query
            .fetch_one(&self.pool)
            .await
            .map_err(|error| db_error(format_args!("counting the rows of {streams:?}"), error))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn wakeups(&self) -> Option<&Wakeups> {
        Some(&self.wakeups)
    }

    fn claim_releases(&self) -> Option<&Wakeups> {
        Some(&self.releases)
    }

    shared_store_methods!(MySql, begin = "BEGIN");
}
