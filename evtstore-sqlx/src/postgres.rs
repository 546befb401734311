//! The PostgreSQL store.
//!
//! Positions come from a sequence, which hands them out before the transactions that take them
//! commit, so a later position can become visible first. Every event therefore also records
//! its transaction id (`txid xid8`), and readers follow (txid, position) and only read rows of
//! transactions below the oldest one still running: those are all finished, so nothing can
//! later appear before a row already read. Cursors carry the txid in `commit`.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use evtstore::{Append, Cursor, Error, ReadRow, RecordedEvent, Replayed, Store, row_cursor};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow, PgTypeInfo};
use sqlx::{AssertSqlSafe, Column, Postgres, Row, Type, TypeInfo};

use crate::Tables;
use crate::common::{
    Decoding, MAX_NAME_CHARS, MalformedRow, Replaying, appending, check_name, conflict, db_error,
    decode_event_of, first_version, is_version_conflict, read_event_row, statements, version_bound,
    visit_replayed,
};
use crate::store_methods::{SharedSql, shared_sql_files, shared_store_methods, sql};

/// See [`PgStore::with_visibility_wait`].
const DEFAULT_VISIBILITY_WAIT: Duration = Duration::from_secs(1);

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
    replay: Arc<str>,
    read_page: Arc<str>,
    read: Arc<str>,
    last_cursor: Arc<str>,
    shared: SharedSql,
}

impl Sql {
    fn new(tables: &Tables, gap_safe: bool) -> Self {
        let render = |template: &str| Arc::from(tables.render(template));
        Sql {
            migrate: tables.render(include_str!("sql/postgres/migrate.sql")),
            migration_lock: render(include_str!("sql/postgres/migration_lock.sql")),
            schema_current: render(include_str!("sql/postgres/schema_current.sql")),
            append_one: render(include_str!("sql/postgres/append_one.sql")),
            append: render(include_str!("sql/postgres/append.sql")),
            load: if gap_safe {
                render(include_str!("sql/postgres/load.sql"))
            } else {
                // Tables without the txid column: the commit key is 0.
                render(&include_str!("sql/postgres/load.sql").replace("e.\"txid\",", "0::bigint,"))
            },
            replay: render(include_str!("sql/postgres/replay.sql")),
            read_page: if gap_safe {
                render(include_str!("sql/postgres/read_page.sql"))
            } else {
                render(include_str!("sql/postgres/read_unsafe.sql"))
            },
            read: if gap_safe {
                render(include_str!("sql/postgres/read.sql"))
            } else {
                render(include_str!("sql/postgres/read_unsafe.sql"))
            },
            last_cursor: render(include_str!("sql/postgres/last_cursor.sql")),
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
            .connect_with(options)
            .await
            .map_err(|error| db_error("connecting to PostgreSQL", error))?;
        Ok(Self::from_pool(pool, tables))
    }

    /// A store over an existing pool.
    pub fn from_pool(pool: PgPool, tables: Tables) -> Self {
        let sql = Arc::new(Sql::new(&tables, true));
        PgStore {
            pool,
            tables: Arc::new(tables),
            sql,
            visibility_wait: DEFAULT_VISIBILITY_WAIT,
            gap_safe: true,
            read_ahead: ReadAhead::default(),
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
}

/// Pages read ahead for handlers catching up: a read that finds a full page fetches several
/// pages at once and keeps the rest here, so that the next read (after the page's last event,
/// of the same streams) is served without a round trip. While a handler works through the kept
/// rows, the next rows are already being read in a background task, so that the database and
/// the decoding run while the handler handles (once less than half of the kept rows are
/// left; an error of that read is returned by the read that needs its rows).
///
/// This is safe because every row a gap-safe read returns belongs to a transaction older than
/// any still running: nothing can later commit before or among the kept rows, so they are
/// exactly what the database would return for the next pages. A background read starts after
/// the last kept row, so the same holds for what it returns. A few chains are kept, one per
/// handler reading, the oldest dropped first.
#[derive(Clone, Debug, Default)]
struct ReadAhead(Arc<std::sync::Mutex<VecDeque<Chain>>>);

/// The rows of one read-ahead query, and whether it came back full (more rows may follow).
type Fetched = Result<(Vec<ReadRow>, bool), Error>;

/// Rows kept after `after` for one list of streams, in cursor order.
#[derive(Debug)]
struct Chain {
    streams: Vec<String>,
    after: Cursor,
    events: VecDeque<ReadRow>,
    /// Whether the last read came back full: more rows may follow `events`.
    more: bool,
    /// The background read of the rows after `events`.
    next: Option<tokio::task::JoinHandle<Fetched>>,
}

impl ReadAhead {
    /// How many chains are kept.
    const CHAINS: usize = 8;

    /// How many rows a read of `limit` fetches: a few pages, within a bound.
    fn rows_for(limit: usize) -> usize {
        limit.saturating_mul(8).min(4096).max(limit)
    }

    fn chains(&self) -> std::sync::MutexGuard<'_, VecDeque<Chain>> {
        // Each change is a single push, pop or replace: a poisoned lock holds consistent data.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes out the chain kept for exactly this read, if any.
    fn take(&self, streams: &[&str], after: Cursor) -> Option<Chain> {
        let mut chains = self.chains();
        let index = chains
            .iter()
            .position(|chain| chain.after == after && chain.streams == streams)?;
        chains.remove(index)
    }

    /// Keeps a chain, replacing one of the same place.
    fn put(&self, chain: Chain) {
        let mut chains = self.chains();
        chains.retain(|kept| kept.streams != chain.streams || kept.after != chain.after);
        while chains.len() >= Self::CHAINS {
            chains.pop_front();
        }
        chains.push_back(chain);
    }
}

/// What a gap-safe query saw besides its rows: the snapshot's xmin and the newest txid of
/// committed events held back by an older transaction still running.
#[derive(Clone, Copy, Debug)]
struct Bound {
    xmin: i64,
    held_back: Option<i64>,
}

impl Bound {
    /// Reads the two columns starting at `index` of a result's first row.
    fn of(row: Option<&PgRow>, index: usize, operation: &dyn fmt::Display) -> Result<Self, Error> {
        let Some(row) = row else {
            return Ok(Bound {
                xmin: 0,
                held_back: None,
            });
        };
        let get = |index| {
            row.try_get::<Option<i64>, _>(index)
                .map_err(|error| db_error(operation, error))
        };
        Ok(Bound {
            xmin: get(index)?.unwrap_or(0),
            held_back: get(index + 1)?,
        })
    }
}

/// Waits, within a budget, until events that were committed when a read began have become
/// safe to read: until the xmin passes the newest txid held back at the first read.
struct Waiter {
    budget: Duration,
    deadline: Option<Instant>,
    target: Option<i64>,
    pause: Duration,
}

impl Waiter {
    fn new(budget: Duration) -> Self {
        Waiter {
            budget,
            deadline: None,
            target: None,
            pause: Duration::from_millis(1),
        }
    }

    /// Whether to read again, after a pause: true while events held back at the first read
    /// are still held back and the budget lasts.
    async fn wait_for(&mut self, bound: Bound, gap_safe: bool) -> bool {
        if !gap_safe || self.budget.is_zero() {
            return false;
        }
        let target = match self.target {
            Some(target) => target,
            None => match bound.held_back {
                Some(held_back) => *self.target.insert(held_back),
                None => return false,
            },
        };
        if bound.xmin > target {
            return false;
        }
        let now = Instant::now();
        let deadline = *self.deadline.get_or_insert(now + self.budget);
        if now >= deadline {
            return false;
        }
        tokio::time::sleep(self.pause.min(deadline - now)).await;
        self.pause = (self.pause * 2).min(Duration::from_millis(16));
        true
    }
}

/// Checks the column types of an event query's result once, so that its rows can be read
/// without checking every value ([`Decoding::PgChecked`]): PostgreSQL describes the columns
/// once per result. Position and version are `bigint`, the commit key an 8-byte `xid8` or
/// `bigint`, the timestamp a `timestamptz` (or `timestamp`), the rest text.
fn check_event_columns(row: &PgRow, operation: &dyn fmt::Display) -> Result<(), Error> {
    check_columns(
        row,
        operation,
        &[
            ("bigint", is_int8),
            ("xid8 or bigint", |ty| {
                is_int8(ty) || ty.name().eq_ignore_ascii_case("xid8")
            }),
            ("text", is_text),
            ("text", is_text),
            ("bigint", is_int8),
            ("timestamptz", |ty| {
                matches!(ty.name(), "TIMESTAMPTZ" | "TIMESTAMP")
            }),
            ("text", is_text),
            ("text", is_text),
        ],
    )
}

/// Checks the column types of a `replay` result once: kind, version and position are
/// `bigint`, the state or event text.
fn check_replay_columns(row: &PgRow, operation: &dyn fmt::Display) -> Result<(), Error> {
    check_columns(
        row,
        operation,
        &[
            ("bigint", is_int8),
            ("bigint", is_int8),
            ("bigint", is_int8),
            ("text", is_text),
        ],
    )
}

fn is_int8(ty: &PgTypeInfo) -> bool {
    <i64 as Type<Postgres>>::compatible(ty)
}

fn is_text(ty: &PgTypeInfo) -> bool {
    <&str as Type<Postgres>>::compatible(ty)
}

/// The expected type of a column: its name for the error, and the test.
type ColumnType = (&'static str, fn(&PgTypeInfo) -> bool);

/// Checks that the leading columns of a result have the expected types.
fn check_columns(
    row: &PgRow,
    operation: &dyn fmt::Display,
    expected: &[ColumnType],
) -> Result<(), Error> {
    let columns = row.columns();
    for (index, &(name, ok)) in expected.iter().enumerate() {
        match columns.get(index) {
            Some(column) if ok(column.type_info()) => {}
            found => {
                return Err(Error::database(
                    operation,
                    MalformedRow(format!(
                        "column {index} of the result is {}, expected {name}",
                        found.map_or("missing", |column| column.type_info().name())
                    )),
                ));
            }
        }
    }
    Ok(())
}

/// Decodes the event rows of a load of `stream`/`aggregate_id`.
fn decode_rows(
    rows: &[PgRow],
    (stream, aggregate_id): (&str, &str),
    operation: &dyn fmt::Display,
) -> Result<Vec<RecordedEvent>, Error> {
    if let Some(first) = rows.first() {
        check_event_columns(first, operation)?;
    }
    rows.iter()
        .map(|row| decode_event_of(row, (stream, aggregate_id), Decoding::PgChecked, operation))
        .collect()
}

/// Decodes the rows of a read, each an event or an unreadable row in its place.
fn decode_read_rows(rows: &[PgRow], operation: &dyn fmt::Display) -> Result<Vec<ReadRow>, Error> {
    if let Some(first) = rows.first() {
        check_event_columns(first, operation)?;
    }
    rows.iter()
        .map(|row| read_event_row(row, None, Decoding::PgChecked, operation))
        .collect()
}

impl PgStore {
    /// One gap-safe page query of up to `rows` rows after `after`, decoded.
    async fn fetch_page(&self, streams: &[&str], after: Cursor, rows: usize) -> Fetched {
        let operation = format!(
            "reading {streams:?} after ({}, {})",
            after.commit, after.position
        );
        let found = sqlx::query(sql(&self.sql.read_page))
            .bind(after.commit)
            .bind(after.position)
            .bind(streams)
            .bind(i64::try_from(rows).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|error| db_error(&operation, error))?;
        let full = found.len() >= rows;
        Ok((decode_read_rows(&found, &operation)?, full))
    }

    /// Starts reading the rows after `after` in the background.
    fn fetch_in_background(
        &self,
        streams: &[String],
        after: Cursor,
        rows: usize,
    ) -> tokio::task::JoinHandle<Fetched> {
        let store = self.clone();
        let streams = streams.to_vec();
        tokio::spawn(async move {
            let streams: Vec<&str> = streams.iter().map(String::as_str).collect();
            store.fetch_page(&streams, after, rows).await
        })
    }

    /// Keeps the rows read after a page for the next reads; `full` tells whether the read
    /// came back full, so that more rows may follow.
    fn keep(&self, streams: &[&str], after: Cursor, events: Vec<ReadRow>, full: bool) {
        if events.is_empty() {
            return;
        }
        self.read_ahead.put(Chain {
            streams: streams.iter().map(|&stream| stream.to_owned()).collect(),
            after,
            events: events.into(),
            more: full,
            next: None,
        });
    }

    /// A full page from the rows read ahead for exactly this read, if there is one. Once less
    /// than half a read's rows are left, the rows after them are read in the background.
    ///
    /// # Errors
    /// The error of a background read this page needed.
    async fn take_ahead(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
        operation: &str,
    ) -> Result<Option<Vec<ReadRow>>, Error> {
        let Some(mut chain) = self.read_ahead.take(streams, after) else {
            return Ok(None);
        };
        if chain.events.len() < limit
            && let Some(next) = chain.next.take()
        {
            let (events, full) = next
                .await
                .map_err(|error| Error::database(operation, error))??;
            chain.events.extend(events);
            chain.more = full;
        }
        if chain.events.len() < limit {
            // Not a full page: the database may have more by now.
            return Ok(None);
        }
        // Move out only the page: the rest stays where it is.
        let page: Vec<ReadRow> = chain.events.drain(..limit).collect();
        let Some(last) = page.last().map(row_cursor) else {
            return Ok(None);
        };
        chain.after = last;
        let rows = ReadAhead::rows_for(limit);
        if chain.more && chain.next.is_none() && chain.events.len() < rows / 2 {
            let from = chain.events.back().map_or(last, row_cursor);
            chain.next = Some(self.fetch_in_background(&chain.streams, from, rows));
            chain.more = false;
        }
        if !chain.events.is_empty() || chain.next.is_some() {
            self.read_ahead.put(chain);
        }
        Ok(Some(page))
    }
}

impl Store for PgStore {
    async fn append(&self, append: Append<'_>) -> Result<(), Error> {
        check_name("stream", append.stream, MAX_NAME_CHARS)?;
        check_name("aggregate id", append.aggregate_id, MAX_NAME_CHARS)?;
        let Some(first) = first_version(&append)? else {
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
            Ok(done) if done.rows_affected() == append.events.len() as u64 => Ok(()),
            Ok(_) => Err(conflict(&append)),
            Err(error) if is_version_conflict(&error, UNIQUE_VIOLATION) => Err(conflict(&append)),
            Err(error) => Err(db_error(appending(&append), error)),
        }
    }

    async fn load(
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
            .fetch_all(&self.pool)
            .await
            .map_err(|error| db_error(&operation, error))?;
        decode_rows(&rows, (stream, aggregate_id), &operation)
    }

    async fn replay<F>(
        &self,
        stream: &str,
        aggregate_id: &str,
        after_version: u64,
        snapshot_tag: Option<&str>,
        visit: F,
    ) -> Result<(), Error>
    where
        F: FnMut(Replayed<'_>) -> Result<(), Error> + Send,
    {
        let rows = sqlx::query(sql(&self.sql.replay))
            .bind(stream)
            .bind(aggregate_id)
            .bind(version_bound(after_version))
            .bind(snapshot_tag)
            .fetch(&self.pool);
        let operation = Replaying {
            stream,
            aggregate_id,
        };
        visit_replayed(rows, Some(check_replay_columns), &operation, visit).await
    }

    async fn read(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<ReadRow>, Error> {
        let operation = format!(
            "reading {streams:?} after ({}, {})",
            after.commit, after.position
        );
        if limit == 0 || streams.is_empty() {
            return Ok(Vec::new());
        }
        if self.gap_safe
            && let Some(page) = self.take_ahead(streams, after, limit, &operation).await?
        {
            return Ok(page);
        }
        let limit_param = i64::try_from(limit).unwrap_or(i64::MAX);
        // The plain query first, reading ahead: a full page (catching up) needs nothing more.
        if self.gap_safe {
            let rows = ReadAhead::rows_for(limit);
            let (mut events, full) = self.fetch_page(streams, after, rows).await?;
            if events.len() >= limit {
                let rest = events.split_off(limit);
                self.keep(streams, row_cursor(&events[limit - 1]), rest, full);
                return Ok(events);
            }
        } else {
            let rows = sqlx::query(sql(&self.sql.read_page))
                .bind(after.commit)
                .bind(after.position)
                .bind(streams)
                .bind(limit_param)
                .fetch_all(&self.pool)
                .await
                .map_err(|error| db_error(&operation, error))?;
            return decode_read_rows(&rows, &operation);
        }
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
                    events.push(read_event_row(row, None, Decoding::PgChecked, &operation)?);
                }
            }
            events.sort_by_key(row_cursor);
            if events.len() >= limit || !waiter.wait_for(bound, self.gap_safe).await {
                return Ok(events);
            }
        }
    }

    async fn last_cursor(&self, streams: &[&str]) -> Result<Cursor, Error> {
        let operation = format!("finding the end of {streams:?}");
        let mut waiter = Waiter::new(self.visibility_wait);
        loop {
            let row = sqlx::query(sql(&self.sql.last_cursor))
                .bind(streams)
                .fetch_one(&self.pool)
                .await
                .map_err(|error| db_error(&operation, error))?;
            let get = |index| {
                row.try_get::<Option<i64>, _>(index)
                    .map_err(|error| db_error(&operation, error))
            };
            let last = match (get(0)?, get(1)?) {
                (Some(commit), Some(position)) => Cursor { commit, position },
                _ => Cursor::START,
            };
            let bound = Bound::of(Some(&row), 2, &operation)?;
            if !waiter.wait_for(bound, self.gap_safe).await {
                return Ok(last);
            }
        }
    }

    shared_store_methods!(Postgres, begin = "BEGIN");
}
