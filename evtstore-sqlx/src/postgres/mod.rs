//! The PostgreSQL store.
//!
//! Positions come from a sequence, which hands them out before the transactions that take them
//! commit, so a later position can become visible first. Every event therefore also records
//! its transaction id (`txid xid8`), and readers follow (txid, position) and only read rows of
//! transactions below the oldest one still running: those are all finished, so nothing can
//! later appear before a row already read. Cursors carry the txid in `commit`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use evtstore::{Append, Cursor, Error, Page, RecordedEvent, Replayed, Store, Wakeups, row_cursor};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row};

use crate::Tables;
use crate::common::{
    CheckColumns, Decoding, Known, MAX_NAME_CHARS, Positions, ReplayColumns, Replaying, RowRef,
    appending, check_name, conflict, db_error, decode_streamed, each_row, first_version,
    is_version_conflict, read_event_row, replay_from_snapshot, statements, version_bound,
};
use crate::store_methods::{SharedSql, shared_sql_files, shared_store_methods, sql};

mod columns;
mod listener;
mod visibility;

use crate::read_ahead::{FetchRows, ReadAhead};
use columns::{
    check_event_columns, check_replay_event_columns, check_replay_version_columns, decode_load_row,
    decode_read_row,
};
use visibility::{
    Bound, DEFAULT_HELD_BACK_REPORT, DEFAULT_VISIBILITY_WAIT, HeldBackEpisodes, Waiter,
    report_held_back,
};

/// PostgreSQL's SQLSTATE for a unique violation.
const UNIQUE_VIOLATION: &str = "23505";

#[derive(Debug)]
struct Sql {
    migrate: String,
    migration_lock: Arc<str>,
    schema_current: Arc<str>,
    append_one: Arc<str>,
    append: Arc<str>,
    load: Arc<str>,
    replay_snapshot: Arc<str>,
    replay_events: Arc<str>,
    replay_versions: Arc<str>,
    read_page: Arc<str>,
    read: Arc<str>,
    last_cursor: Arc<str>,
    count_between: Arc<str>,
    shared: SharedSql,
}

impl Sql {
    fn new(tables: &Tables, gap_safe: bool) -> Self {
        let render = |template: &str| Arc::from(tables.render(template));
        Sql {
            migrate: tables.render(include_str!("../sql/postgres/migrate.sql")),
            migration_lock: render(include_str!("../sql/postgres/migration_lock.sql")),
            schema_current: render(include_str!("../sql/postgres/schema_current.sql")),
            append_one: render(include_str!("../sql/postgres/append_one.sql")),
            append: render(include_str!("../sql/postgres/append.sql")),
            load: if gap_safe {
                render(include_str!("../sql/postgres/load.sql"))
            } else {
                // Tables without the txid column: the commit key is 0.
                render(
                    &include_str!("../sql/postgres/load.sql").replace("e.\"txid\",", "0::bigint,"),
                )
            },
            replay_snapshot: render(include_str!("../sql/postgres/replay_snapshot.sql")),
            replay_events: render(include_str!("../sql/postgres/replay_events.sql")),
            replay_versions: render(include_str!("../sql/postgres/replay_versions.sql")),
            read_page: if gap_safe {
                render(include_str!("../sql/postgres/read_page.sql"))
            } else {
                render(include_str!("../sql/postgres/read_unsafe.sql"))
            },
            read: if gap_safe {
                render(include_str!("../sql/postgres/read.sql"))
            } else {
                render(include_str!("../sql/postgres/read_unsafe.sql"))
            },
            last_cursor: render(include_str!("../sql/postgres/last_cursor.sql")),
            count_between: render(include_str!("../sql/postgres/count_between.sql")),
            shared: SharedSql::new(
                tables,
                &shared_sql_files!("postgres", plain_fenced = "bookmark_fenced_async"),
            ),
        }
    }
}

/// Binds a bookmark's cursor: the position and the transaction id it was read up to.
fn bind_cursor(
    query: sqlx::query::Query<'_, Postgres, PgArguments>,
    cursor: Cursor,
) -> sqlx::query::Query<'_, Postgres, PgArguments> {
    query.bind(cursor.position).bind(cursor.commit)
}

/// A [`Store`] on PostgreSQL (13 or later: it uses `xid8`).
///
/// ```no_run
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use evtstore_sqlx::PgStore;
///
/// let store = PgStore::connect("postgres://postgres@127.0.0.1/app").await?;
/// store.migrate().await?;
/// # Ok::<_, evtstore::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    tables: Arc<Tables>,
    sql: Arc<Sql>,
    visibility_wait: Duration,
    gap_safe: bool,
    read_ahead: ReadAhead,
    /// Woken after each append through this store, and by the listener for appends of any
    /// process.
    wakeups: Arc<Wakeups>,
    /// Woken when a claim is let go through this store (and, on PostgreSQL, by any process).
    releases: Arc<Wakeups>,
    listener: Arc<listener::Listener>,
    held_back: Arc<HeldBackEpisodes>,
    held_back_report: Duration,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("tables", &self.tables)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects with the default [`Tables`]. Does not create them: call
    /// [`migrate`](Self::migrate).
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
        let options = PgConnectOptions::from_str(url)
            .map_err(|error| Error::Config(format!("invalid PostgreSQL URL: {error}")))?;
        let pool = PgPoolOptions::new()
            .connect_with(Self::session_options(options))
            .await
            .map_err(|error| db_error("connecting to PostgreSQL", error))?;
        Ok(Self::from_pool(pool, tables))
    }

    /// The session settings the store's own pool uses ([`connect`](Self::connect)), added to
    /// `options`; build a pool for [`from_pool`](Self::from_pool) with them to get the same.
    ///
    /// It sets `plan_cache_mode` to `force_generic_plan`, unless `options` set it already.
    /// Every statement of the store looks rows up by an index whose choice does not depend on
    /// the values bound (an aggregate by its key, a page by its cursor), and PostgreSQL's
    /// default (`auto`) plans a prepared statement anew at each of its first five executions
    /// on a connection, and then again whenever its cost model prefers a plan fitted to the
    /// values: for the replay of an aggregate with a snapshot it kept doing so, and planning
    /// cost 0.15-0.3 ms a load, more than the round trip itself (`BENCHMARKS.md`). (Its
    /// statement now keeps its generic plan under `auto` too: see
    /// `sql/postgres/replay_snapshot.sql`.)
    ///
    /// The setting travels as the `options` startup parameter. PgBouncer refuses connections
    /// that send it unless `ignore_startup_parameters` lists `options`: through PgBouncer,
    /// configure that, or build the pool from options without these settings and hand it to
    /// [`from_pool`](Self::from_pool).
    #[must_use]
    pub fn session_options(options: PgConnectOptions) -> PgConnectOptions {
        if options
            .get_options()
            .is_some_and(|set| set.contains("plan_cache_mode"))
        {
            return options;
        }
        options.options([("plan_cache_mode", "force_generic_plan")])
    }

    /// A store over an existing pool. Its sessions keep their own settings: see
    /// [`session_options`](Self::session_options) for what the store's own pool sets.
    pub fn from_pool(pool: PgPool, tables: Tables) -> Self {
        let sql = Arc::new(Sql::new(&tables, true));
        PgStore {
            pool,
            tables: Arc::new(tables),
            sql,
            visibility_wait: DEFAULT_VISIBILITY_WAIT,
            gap_safe: true,
            read_ahead: ReadAhead::default(),
            wakeups: Arc::default(),
            releases: Arc::default(),
            listener: Arc::default(),
            held_back: Arc::default(),
            held_back_report: DEFAULT_HELD_BACK_REPORT,
        }
    }

    /// The same store reading in plain position order, without the snapshot bound. It skips
    /// events under concurrent writers: it exists only to measure what gap safety costs and to
    /// show that the concurrent-writer test catches the skip.
    #[doc(hidden)]
    #[must_use]
    pub fn unsafe_position_order(mut self) -> Self {
        self.sql = Arc::new(Sql::new(&self.tables, false));
        self.gap_safe = false;
        self
    }

    /// How long `read` and `last_cursor` wait at most for older transactions to end when
    /// committed events wait behind them (default 1 s). Events of a transaction become
    /// readable once every transaction that started writing before it has ended; at the end of
    /// a stream, a read that finds such events polls for up to this long before returning the
    /// events it may safely return. Zero never waits.
    #[must_use]
    pub fn with_visibility_wait(mut self, wait: Duration) -> Self {
        self.visibility_wait = wait;
        self
    }

    /// How long reads may be held back by one old transaction before it is reported (default
    /// 1 s): a warning through `tracing` with the blocking backend's pid, database, state and
    /// transaction age, once per such episode. PostgreSQL's snapshot bound is cluster-wide, so
    /// the transaction may be in any database of the server.
    #[must_use]
    pub fn with_held_back_report(mut self, after: Duration) -> Self {
        self.held_back_report = after;
        self
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The table names.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Creates the tables and indexes that are missing, and adds the columns a database
    /// written by the TypeScript evtstore lacks (its rows and bookmarks keep their order).
    ///
    /// Safe to call from every process at every start: it first reads the catalogs, which
    /// locks no table, and on an up-to-date schema does nothing else. Otherwise it runs in one
    /// transaction under an advisory lock (one process migrates at a time) and checks again
    /// under it.
    ///
    /// # Errors
    /// [`Error::Database`] when a statement fails; nothing is changed then.
    pub async fn migrate(&self) -> Result<(), Error> {
        let operation = format!("migrating the PostgreSQL schema ({})", self.tables);
        // On an up-to-date schema nothing else runs: the DDL below takes ACCESS EXCLUSIVE
        // locks even when there is nothing to add, which wait behind any open transaction that
        // used the tables and hold up every writer behind them.
        if self.schema_is_current(&self.pool, &operation).await? {
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|error| db_error(&operation, error))?;
        sqlx::query(sql(&self.sql.migration_lock))
            .execute(&mut *tx)
            .await
            .map_err(|error| db_error(&operation, error))?;
        // Another process may have migrated while this one waited for the lock.
        if self.schema_is_current(&mut *tx, &operation).await? {
            return tx
                .commit()
                .await
                .map_err(|error| db_error(&operation, error));
        }
        for statement in statements(&self.sql.migrate) {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .map_err(|error| db_error(&operation, error))?;
        }
        tx.commit()
            .await
            .map_err(|error| db_error(&operation, error))
    }

    /// Whether every table, index and column `migrate` makes is there, read from the catalogs
    /// without locking the tables.
    async fn schema_is_current<'c, E>(&self, executor: E, operation: &str) -> Result<bool, Error>
    where
        E: sqlx::Executor<'c, Database = Postgres>,
    {
        sqlx::query_scalar(sql(&self.sql.schema_current))
            .fetch_one(executor)
            .await
            .map_err(|error| db_error(operation, error))
    }

    /// [`Store::append`], inside its span.
    async fn append_in_span(&self, append: &Append<'_>) -> Result<(), Error> {
        check_name("stream", append.stream, MAX_NAME_CHARS)?;
        check_name("aggregate id", append.aggregate_id, MAX_NAME_CHARS)?;
        let Some(first) = first_version(append)? else {
            return Ok(());
        };
        let query = if let [event] = append.events {
            sqlx::query(sql(&self.sql.append_one))
                .bind(append.stream)
                .bind(append.aggregate_id)
                .bind(first)
                .bind(append.timestamp.as_millis())
                .bind(event.event.as_str())
                .bind(append.metadata)
        } else {
            let events: Vec<&str> = append.events.iter().map(|e| e.event.as_str()).collect();
            sqlx::query(sql(&self.sql.append))
                .bind(append.stream)
                .bind(append.aggregate_id)
                .bind(first)
                .bind(append.timestamp.as_millis())
                .bind(events)
                .bind(append.metadata)
        };
        let appended = query.execute(&self.pool).await;
        match appended {
            Ok(done) if done.rows_affected() == append.events.len() as u64 => {
                // Handlers of this process need not wait for the notification's round trip.
                self.wakeups.notify();
                Ok(())
            }
            Ok(_) => Err(conflict(append)),
            Err(error) if is_version_conflict(&error, UNIQUE_VIOLATION) => Err(conflict(append)),
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
            decode_load_row(row, first, (stream, aggregate_id), &operation)
        })
        .await
    }
}

impl PgStore {
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
        let (columns, check, statement): (_, CheckColumns<PgRow>, _) = match positions {
            Positions::Read => (
                ReplayColumns::EventsOnly,
                check_replay_event_columns,
                &self.sql.replay_events,
            ),
            Positions::Skip => (
                ReplayColumns::VersionsAndEvents,
                check_replay_version_columns,
                &self.sql.replay_versions,
            ),
        };
        // No limit: a limit the planner cannot see keeps the plan in index order
        // (replay_events.sql).
        let events = |bound: i64| {
            sqlx::query(sql(statement))
                .bind(stream)
                .bind(aggregate_id)
                .bind(bound)
                .bind(None::<i64>)
                .fetch(&self.pool)
        };
        let operation = Replaying::new(stream, aggregate_id, after_version, columns);
        let snapshot = snapshot_tag.map(|tag| {
            sqlx::query(sql(&self.sql.replay_snapshot))
                .bind(stream)
                .bind(aggregate_id)
                .bind(tag)
                .bind(version_bound(after_version))
                .fetch_optional(&self.pool)
        });
        replay_from_snapshot(&operation, snapshot, events, Some(check), visit).await
    }
}

impl Store for PgStore {
    async fn read_page(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> Result<Page, Error> {
        if limit == 0 || streams.is_empty() {
            return Ok(Page::default());
        }
        if !self.gap_safe {
            // The page query alone; nothing may be kept from reads that are not gap-safe.
            return self.fetch_page(streams, after, limit).await;
        }
        // The plain query first, reading ahead: a full page (catching up) needs nothing more.
        if let Ok(page) = self.read_ahead.page(self, streams, after, limit).await? {
            return Ok(page);
        }
        // Named only now: a page read ahead (every page while catching up) needs no label.
        let operation = format!(
            "reading {streams:?} after ({}, {})",
            after.commit, after.position
        );
        let limit_param = i64::try_from(limit).unwrap_or(i64::MAX);
        // At the end of the streams: wait for events that were committed when the read began
        // but are held back by an older transaction still running.
        let mut waiter = Waiter::new(self.visibility_wait);
        loop {
            let rows = sqlx::query(sql(&self.sql.read))
                .bind(after.commit)
                .bind(after.position)
                .bind(streams)
                .bind(limit_param)
                .fetch_all(&self.pool)
                .await
                .map_err(|error| db_error(&operation, error))?;
            let bound = Bound::of(rows.first(), 8, &operation)?;
            if let Some(first) = rows.first() {
                check_event_columns(first, &operation)?;
            }
            let mut events = Vec::with_capacity(rows.len());
            for row in &rows {
                // The single row of an empty page has no event.
                if row
                    .try_get::<Option<i64>, _>(0)
                    .map_err(|error| db_error(&operation, error))?
                    .is_some()
                {
                    let event =
                        read_event_row(row, Known::default(), Decoding::PgChecked, &operation)?;
                    events.push(event.map(|event| event.to_recorded()));
                }
            }
            events.sort_by_key(row_cursor);
            if events.len() >= limit || !waiter.wait_for(bound, self.gap_safe).await {
                if let Some(xmin) = self.held_back.observe(bound, self.held_back_report) {
                    report_held_back(&self.pool, xmin, streams).await;
                }
                return Ok(Page::from(events));
            }
        }
    }

    async fn last_cursor(&self, streams: &[&str]) -> Result<Cursor, Error> {
        let operation = format!("finding the end of {streams:?}");
        // No visibility wait: the true end is what is committed now, held back or not.
        let row = sqlx::query(sql(&self.sql.last_cursor))
            .bind(streams)
            .fetch_one(&self.pool)
            .await
            .map_err(|error| db_error(&operation, error))?;
        let get = |index| {
            row.try_get::<Option<i64>, _>(index)
                .map_err(|error| db_error(&operation, error))
        };
        Ok(match (get(0)?, get(1)?) {
            (Some(commit), Some(position)) => Cursor { commit, position },
            _ => Cursor::START,
        })
    }

    async fn count_between(
        &self,
        streams: &[&str],
        after: Cursor,
        until: Cursor,
    ) -> Result<u64, Error> {
        let count: i64 = sqlx::query_scalar(sql(&self.sql.count_between))
            .bind(after.commit)
            .bind(after.position)
            .bind(until.commit)
            .bind(until.position)
            .bind(streams)
            .fetch_one(&self.pool)
            .await
            .map_err(|error| db_error(format_args!("counting the rows of {streams:?}"), error))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Also starts (once) the listener that wakes this store's handlers for appends of
    /// other processes.
    fn wakeups(&self) -> Option<&Wakeups> {
        self.listen();
        Some(&self.wakeups)
    }

    /// Also starts (once) the listener, which wakes runners standing by when a claim is let
    /// go by another process.
    fn claim_releases(&self) -> Option<&Wakeups> {
        self.listen();
        Some(&self.releases)
    }

    shared_store_methods!(Postgres, begin = "BEGIN");
}

impl PgStore {
    /// Starts (once) the listener for appends and claims let go by any process.
    fn listen(&self) {
        self.listener.start(
            &self.pool,
            [
                listener::Watched::new(self.tables.events(), &self.wakeups),
                listener::Watched::new(self.tables.bookmarks(), &self.releases),
            ],
        );
    }
}

impl FetchRows for PgStore {
    /// One gap-safe page query of up to `rows` rows after `after`, each row handed to `keep` as
    /// it is decoded.
    async fn fetch_rows(
        &self,
        streams: &[&str],
        after: Cursor,
        rows: usize,
        keep: &mut (dyn FnMut(RowRef<'_>) + Send),
    ) -> Result<usize, Error> {
        let operation = format!(
            "reading {streams:?} after ({}, {})",
            after.commit, after.position
        );
        let found = sqlx::query(sql(&self.sql.read_page))
            .bind(after.commit)
            .bind(after.position)
            .bind(streams)
            .bind(i64::try_from(rows).unwrap_or(i64::MAX))
            .fetch(&self.pool);
        each_row(found, &operation, |row, first| {
            keep(decode_read_row(row, first, &operation)?);
            Ok(())
        })
        .await
    }
}
