//! The SQLite store: the embedded default, in a file or in memory.
//!
//! SQLite runs one write transaction at a time, and every append is a single statement, so
//! positions become visible in the order they are handed out: reading by position is gap-free
//! and cursors carry no commit key (`commit` is 0).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use evtstore::{Append, Cursor, Error, Page, RecordedEvent, Replayed, Store, Wakeups};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Sqlite};

use crate::common::{
    Decoding, MAX_NAME_CHARS, MalformedRow, Positions, ReplayColumns, Replaying, RowRef, appending,
    check_name, conflict, db_error, decode_event_of, decode_read_row, decode_streamed, each_row,
    first_version, is_version_conflict, replay_span, statements, version_bound, visit_replayed,
};
use crate::read_ahead::{FetchRows, ReadAhead};
use crate::store_methods::{SharedSql, shared_sql_files, shared_store_methods, sql};
use crate::{Synchronous, Tables};

/// SQLite's extended result code for a UNIQUE constraint violation.
const UNIQUE_VIOLATION: &str = "2067";

/// The statements of one store, rendered once for its table names.
#[derive(Debug)]
struct Sql {
    migrate: String,
    schema_current: Arc<str>,
    has_metadata: Arc<str>,
    add_metadata: Arc<str>,
    append_one: Arc<str>,
    append_many: Arc<str>,
    load: Arc<str>,
    replay: Arc<str>,
    replay_events: Arc<str>,
    replay_texts: Arc<str>,
    read: Arc<str>,
    last_position: Arc<str>,
    count_between: Arc<str>,
    has_claim_columns: Arc<str>,
    add_claim_columns: String,
    shared: SharedSql,
}

impl Sql {
    fn new(tables: &Tables) -> Self {
        let render = |template: &str| Arc::from(tables.render(template));
        Sql {
            migrate: tables.render(include_str!("sql/sqlite/migrate.sql")),
            schema_current: render(include_str!("sql/sqlite/schema_current.sql")),
            has_metadata: render(include_str!("sql/sqlite/has_metadata.sql")),
            add_metadata: render(include_str!("sql/sqlite/add_metadata.sql")),
            append_one: render(include_str!("sql/sqlite/append_one.sql")),
            append_many: render(include_str!("sql/sqlite/append_many.sql")),
            load: render(include_str!("sql/sqlite/load.sql")),
            replay: render(include_str!("sql/sqlite/replay.sql")),
            replay_events: render(include_str!("sql/sqlite/replay_events.sql")),
            replay_texts: render(include_str!("sql/sqlite/replay_texts.sql")),
            read: render(include_str!("sql/sqlite/read.sql")),
            last_position: render(include_str!("sql/sqlite/last_position.sql")),
            count_between: render(include_str!("sql/sqlite/count_between.sql")),
            has_claim_columns: render(include_str!("sql/sqlite/has_claim_columns.sql")),
            add_claim_columns: tables.render(include_str!("sql/sqlite/add_claim_columns.sql")),
            shared: SharedSql::new(
                tables,
                &shared_sql_files!("sqlite", plain_fenced = "bookmark_fenced"),
            ),
        }
    }
}

/// Binds a bookmark's cursor: SQLite positions need no commit key.
fn bind_cursor(
    query: sqlx::query::Query<'_, Sqlite, SqliteArguments>,
    cursor: Cursor,
) -> sqlx::query::Query<'_, Sqlite, SqliteArguments> {
    query.bind(cursor.position)
}

/// A [`Store`] on SQLite.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use evtstore_sqlx::SqliteStore;
///
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// store.migrate().await?;
/// # Ok::<_, evtstore::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    tables: Arc<Tables>,
    sql: Arc<Sql>,
    /// Woken after each append through this store (and its clones).
    wakeups: Arc<Wakeups>,
    /// Woken when a claim is let go through this store (and, on PostgreSQL, by any process).
    releases: Arc<Wakeups>,
    read_ahead: ReadAhead,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("tables", &self.tables)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// How many rows a connection of the store's own pool runs ahead of whoever reads them
    /// (sqlx's `row_buffer_size`; its default is 50). SQLite runs each connection on a thread
    /// of its own that hands rows over one at a time through a bounded channel: once the
    /// channel is full, every row taken wakes that thread to put in the next, a thread switch
    /// per row for as long as the reader is slower than SQLite (a fold or a handler decoding
    /// JSON is). With room for a whole aggregate's events, a load runs on without waiting.
    /// The rows buffered are the rows asked for: loads, and reads of at most 16,384 rows.
    pub const ROW_BUFFER: usize = 4096;

    /// Opens a SQLite database with the default [`Tables`] and [`Synchronous::Normal`]:
    /// `sqlite:path/to/file.db` (created if missing) or `sqlite::memory:`.
    ///
    /// Does not create the tables: call [`migrate`](Self::migrate).
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that is not SQLite's, [`Error::Database`] when the database
    /// cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, Tables::default(), Synchronous::default()).await
    }

    /// Opens a SQLite database with explicit table names and durability.
    ///
    /// A file database is switched to WAL with a single connection before the pool opens
    /// (so that no pooled connection holds a read that stalls checkpoints), then served by a
    /// pool of up to 8 connections with `synchronous` as given. `sqlite::memory:` is one
    /// database per call, served by a single connection that is never closed (an in-memory
    /// database lives only as long as a connection to it).
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that is not SQLite's, [`Error::Database`] when the database
    /// cannot be opened.
    pub async fn connect_with(
        url: &str,
        tables: Tables,
        synchronous: Synchronous,
    ) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| Error::Config(format!("invalid SQLite URL `{url}`: {error}")))?
            .busy_timeout(Duration::from_secs(10))
            .row_buffer_size(Self::ROW_BUFFER);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(|error| db_error(format_args!("opening `{url}`"), error))?
        } else {
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match synchronous {
                    Synchronous::Normal => SqliteSynchronous::Normal,
                    Synchronous::Full => SqliteSynchronous::Full,
                });
            // Switch to WAL alone first: the journal mode is persistent and changing it needs
            // exclusive access.
            let first = options
                .connect()
                .await
                .map_err(|error| db_error(format_args!("opening `{url}`"), error))?;
            first
                .close()
                .await
                .map_err(|error| db_error(format_args!("opening `{url}`"), error))?;
            SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(|error| db_error(format_args!("opening `{url}`"), error))?
        };
        Ok(Self::from_pool(pool, tables))
    }

    /// A store over an existing pool. The pool's settings are the caller's: for a file
    /// database, use WAL; for `sqlite::memory:`, a pool of one connection that never closes.
    pub fn from_pool(pool: SqlitePool, tables: Tables) -> Self {
        let sql = Arc::new(Sql::new(&tables));
        SqliteStore {
            pool,
            tables: Arc::new(tables),
            sql,
            wakeups: Arc::default(),
            releases: Arc::default(),
            read_ahead: ReadAhead::default(),
        }
    }

    /// The pool, for the application's own queries (a read model in the same database, say).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The table names.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Creates the tables and indexes that are missing, and adds the columns a database
    /// written by the TypeScript evtstore lacks.
    ///
    /// Safe to call from every process at every start: it first reads the schema without a
    /// write lock, and on an up-to-date schema does nothing else. Otherwise it takes the write
    /// lock at once (`BEGIN IMMEDIATE`), checks again, and creates what is missing.
    ///
    /// # Errors
    /// [`Error::Database`] when a statement fails; nothing is changed then.
    pub async fn migrate(&self) -> Result<(), Error> {
        let operation = format!("migrating the SQLite schema ({})", self.tables);
        if self.schema_is_current(&self.pool, &operation).await? {
            return Ok(());
        }
        // BEGIN IMMEDIATE takes the write lock first (waiting for it up to the busy timeout):
        // a deferred transaction that reads the schema and then alters it fails with "database
        // is locked" when another migration took the lock in between.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|error| db_error(&operation, error))?;
        if self.schema_is_current(&mut *tx, &operation).await? {
            return tx
                .commit()
                .await
                .map_err(|error| db_error(&operation, error));
        }
        for statement in statements(&self.sql.migrate) {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .map_err(|error| db_error(&operation, error))?;
        }
        let has_metadata: i64 = sqlx::query_scalar(sql(&self.sql.has_metadata))
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| db_error(&operation, error))?;
        if has_metadata == 0 {
            sqlx::query(sql(&self.sql.add_metadata))
                .execute(&mut *tx)
                .await
                .map_err(|error| db_error(&operation, error))?;
        }
        let has_claim_columns: i64 = sqlx::query_scalar(sql(&self.sql.has_claim_columns))
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| db_error(&operation, error))?;
        if has_claim_columns == 0 {
            for statement in statements(&self.sql.add_claim_columns) {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(|error| db_error(&operation, error))?;
            }
        }
        tx.commit()
            .await
            .map_err(|error| db_error(&operation, error))
    }

    /// Whether every table, index and column `migrate` makes is there, read without a write
    /// lock.
    async fn schema_is_current<'c, E>(&self, executor: E, operation: &str) -> Result<bool, Error>
    where
        E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
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
            let events = serde_json::to_string(&events).map_err(|source| Error::Encode {
                what: "events",
                stream: append.stream.to_owned(),
                aggregate_id: append.aggregate_id.to_owned(),
                source,
            })?;
            sqlx::query(sql(&self.sql.append_many))
                .bind(append.stream)
                .bind(append.aggregate_id)
                .bind(first)
                .bind(append.timestamp.as_millis())
                .bind(events)
                .bind(append.metadata)
        };
        match query.execute(&self.pool).await {
            Ok(done) if done.rows_affected() == append.events.len() as u64 => {
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
        decode_streamed(rows, &operation, |row, _| {
            decode_event_of(row, (stream, aggregate_id), Decoding::Checked, &operation)
        })
        .await
    }
}

fn streams_json(streams: &[&str]) -> String {
    // Serializing a slice of strings cannot fail.
    serde_json::to_string(streams).unwrap_or_else(|_| "[]".to_owned())
}

impl FetchRows for SqliteStore {
    async fn fetch_rows(
        &self,
        streams: &[&str],
        after: Cursor,
        rows: usize,
        keep: &mut (dyn FnMut(RowRef<'_>) + Send),
    ) -> Result<usize, Error> {
        let operation = format!("reading {streams:?} after position {}", after.position);
        let found = sqlx::query(sql(&self.sql.read))
            .bind(after.position)
            .bind(streams_json(streams))
            .bind(i64::try_from(rows).unwrap_or(i64::MAX))
            .fetch(&self.pool);
        each_row(found, &operation, |row, _| {
            keep(decode_read_row(row, &operation)?);
            Ok(())
        })
        .await
    }
}

impl SqliteStore {
    /// `replay` and `replay_without_positions` (see `shared_store_methods!`).
    async fn replay_rows<F>(
        &self,
        (stream, aggregate_id, after_version): (&str, &str, u64),
        snapshot_tag: Option<&str>,
        positions: Positions,
        mut visit: F,
    ) -> Result<(), Error>
    where
        F: FnMut(Replayed<'_>) -> Result<(), Error> + Send,
    {
        use futures_util::{StreamExt, TryStreamExt};
        use tracing::Instrument;
        // The replay's span, when the lighter read below opened it.
        let mut opened = None;
        if snapshot_tag.is_none() && positions == Positions::Skip {
            // For errors and the span; the texts are decoded here, not by `decode_replayed`.
            let operation = Replaying::new(
                stream,
                aggregate_id,
                after_version,
                ReplayColumns::EventsOnly,
            );
            let span = replay_span(&operation);
            match self
                .replay_texts(&operation)
                .instrument(span.clone())
                .await?
            {
                Texts::Whole { rows, first_text } => {
                    span.record("snapshot", false);
                    span.record("events", rows.len());
                    let _entered = span.enter();
                    let texts = rows.iter().enumerate().zip(after_version + 1..);
                    for ((index, row), version) in texts {
                        let event = match index {
                            0 => first_text_of(row, first_text, &operation)?,
                            _ => decode_text(row, version, &operation)?,
                        };
                        visit(Replayed::Event {
                            version,
                            position: None,
                            event,
                        })?;
                    }
                    return Ok(());
                }
                // Read again as `replay` does, which refuses what made the texts unfit, in the
                // same span.
                Texts::NotWhole => opened = Some(span),
            }
        }
        let (columns, query) = match snapshot_tag {
            Some(tag) => (
                ReplayColumns::SnapshotAndEvents,
                sqlx::query(sql(&self.sql.replay))
                    .bind(stream)
                    .bind(aggregate_id)
                    .bind(version_bound(after_version))
                    .bind(tag),
            ),
            // Without snapshots, only the events: no union to merge, no snapshot lookup.
            None => (
                ReplayColumns::EventsOnly,
                sqlx::query(sql(&self.sql.replay_events))
                    .bind(stream)
                    .bind(aggregate_id)
                    .bind(version_bound(after_version)),
            ),
        };
        // All rows first, then the fold (unlike the other stores): SQLite's thread hands rows
        // over one at a time, and a fold that decodes each row before taking the next wakes
        // that thread once per row. Collecting them took a 1,000-event load from 1.8x to 1.6x
        // the baseline's time (`BENCHMARKS.md`). Run lazily, inside the replay's span.
        let rows = futures_util::stream::once(query.fetch_all(&self.pool))
            .map_ok(|rows| futures_util::stream::iter(rows.into_iter().map(Ok)))
            .try_flatten()
            .boxed();
        let operation = Replaying::new(stream, aggregate_id, after_version, columns);
        let span = opened.unwrap_or_else(|| replay_span(&operation));
        visit_replayed(span, rows, None, &operation, visit).await
    }

    /// The events of an aggregate without snapshots, the text alone (`replay_texts.sql`),
    /// when they are whole: versions `after_version + 1` to the last, none below 1.
    async fn replay_texts(&self, operation: &Replaying<'_>) -> Result<Texts, Error> {
        use sqlx::Row;
        let Replaying {
            stream,
            aggregate_id,
            after_version,
            ..
        } = *operation;
        let Some(first_version) = after_version
            .checked_add(1)
            .and_then(|v| i64::try_from(v).ok())
        else {
            // No version follows it.
            return Ok(Texts::Whole {
                rows: Vec::new(),
                first_text: 0,
            });
        };
        let marker = random_marker();
        let rows = sqlx::query(sql(&self.sql.replay_texts))
            .bind(stream)
            .bind(aggregate_id)
            .bind(version_bound(after_version))
            .bind(first_version)
            .bind(marker)
            .fetch_all(&self.pool)
            .await
            .map_err(|error| db_error(operation, error))?;
        let Some(first) = rows.first() else {
            return Ok(Texts::Whole {
                rows,
                first_text: 0,
            });
        };
        // A first row that is not text (NULL, a blob) is reported by `replay`.
        let Ok(Some(text)) = first.try_get::<Option<&str>, _>(0) else {
            return Ok(Texts::NotWhole);
        };
        let Some((last, first_text)) = strip_marker(text, marker) else {
            return Ok(Texts::NotWhole);
        };
        // Unique versions from `first_version` to `last`: as many rows as that only when whole.
        let whole = last
            .checked_sub(first_version - 1)
            .is_some_and(|count| i64::try_from(rows.len()) == Ok(count));
        Ok(match whole {
            true => Texts::Whole { rows, first_text },
            false => Texts::NotWhole,
        })
    }
}

/// A number for one `replay_texts.sql` read to mark its first row with, which no stored text
/// can be expected to begin with. `RandomState` is seeded from the OS's randomness once per
/// process and then stepped, and the hash of a fresh one differs at every call.
fn random_marker() -> i64 {
    use std::hash::BuildHasher;
    let random = std::hash::RandomState::new().hash_one(std::time::Instant::now());
    i64::from_ne_bytes(random.to_ne_bytes())
}

/// The last version and the offset of the event's text in the first row of a
/// `replay_texts.sql` read, when it begins with `marker` and the last version.
fn strip_marker(text: &str, marker: i64) -> Option<(i64, usize)> {
    let (found, rest) = text.split_once(' ')?;
    if found.parse::<i64>().ok()? != marker {
        return None;
    }
    let (last, _) = rest.split_once(' ')?;
    Some((last.parse().ok()?, found.len() + last.len() + 2))
}

/// The event text of the first row of a whole `replay_texts.sql` read, after its marker.
fn first_text_of<'r>(
    row: &'r SqliteRow,
    offset: usize,
    operation: &Replaying<'_>,
) -> Result<&'r str, Error> {
    use sqlx::Row;
    // `replay_texts` read this text and found the marker in it, ending at `offset`.
    let text: &str = row.try_get(0).map_err(|error| db_error(operation, error))?;
    text.get(offset..).ok_or_else(|| {
        Error::database(
            operation,
            MalformedRow("the first event's text lost its marker".to_owned()),
        )
    })
}

/// What `replay_texts` found.
enum Texts {
    /// The events' rows, one text each, in version order from the first after the replay's
    /// start, every version present; the first row's event text starts at `first_text`.
    Whole {
        rows: Vec<SqliteRow>,
        first_text: usize,
    },
    /// Something `replay` refuses (a gap, a version below 1): read the aggregate as it does.
    NotWhole,
}

/// The text of a `replay_texts.sql` row, the event at `version`.
fn decode_text<'r>(
    row: &'r SqliteRow,
    version: u64,
    operation: &Replaying<'_>,
) -> Result<&'r str, Error> {
    use sqlx::Row;
    row.try_get::<Option<&str>, _>(0)
        .map_err(|error| db_error(operation, error))?
        .ok_or_else(|| Error::BrokenHistory {
            stream: operation.stream.to_owned(),
            aggregate_id: operation.aggregate_id.to_owned(),
            detail: format!("the event at version {version} is NULL"),
        })
}

impl Store for SqliteStore {
    async fn read_page(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> Result<Page, Error> {
        if limit == 0 || streams.is_empty() {
            return Ok(Page::default());
        }
        // SQLite writes one transaction at a time, so positions (AUTOINCREMENT) commit in
        // order: a read sees every row below its last one, and the rows of a larger read are
        // exactly what the next reads would return (see `read_ahead`).
        match self.read_ahead.page(self, streams, after, limit).await? {
            Ok(page) | Err(page) => Ok(page),
        }
    }

    async fn last_cursor(&self, streams: &[&str]) -> Result<Cursor, Error> {
        let position: Option<i64> = sqlx::query_scalar(sql(&self.sql.last_position))
            .bind(streams_json(streams))
            .fetch_optional(&self.pool)
            .await
            .map_err(|error| db_error(format_args!("finding the end of {streams:?}"), error))?;
        Ok(position.map_or(Cursor::START, Cursor::at))
    }

    async fn count_between(
        &self,
        streams: &[&str],
        after: Cursor,
        until: Cursor,
    ) -> Result<u64, Error> {
        let count: i64 = sqlx::query_scalar(sql(&self.sql.count_between))
            .bind(after.position)
            .bind(until.position)
            .bind(streams_json(streams))
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

    // A projection's transaction takes the write lock at once: a deferred transaction that
    // reads and then writes fails with "database is locked", without waiting, when another
    // connection wrote in between.
    shared_store_methods!(Sqlite, begin = "BEGIN IMMEDIATE");
}

#[cfg(test)]
mod tests {
    use evtstore::{Error, Replayed, Store};

    use super::{SqliteStore, random_marker, strip_marker};
    use crate::common::{ReplayColumns, Replaying, replay_span, visit_replayed};

    /// What `replay` makes of rows a statement could return from a damaged table: a clear
    /// database error, never a panic.
    #[tokio::test]
    async fn malformed_replay_rows_are_database_errors() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        // The replay of an aggregate with snapshots (kind column) and of one without.
        let with_kind = Replaying::new("s", "a", 0, ReplayColumns::SnapshotAndEvents);
        let events_only = Replaying::new("s", "a", 0, ReplayColumns::EventsOnly);
        let cases = [
            (with_kind, "SELECT 1, NULL, 5, '{}'", "version is NULL"),
            (with_kind, "SELECT 1, 0, 5, '{}'", "versions start at 1"),
            (with_kind, "SELECT 1, 2, NULL, '{}'", "no position"),
            (with_kind, "SELECT 1, 2, 5, NULL", "event is NULL"),
            (with_kind, "SELECT 0, NULL, NULL, '{}'", "no version"),
            (with_kind, "SELECT 0, 3, NULL, NULL", "no state"),
            (with_kind, "SELECT 0, -3, NULL, '{}'", "negative"),
            (with_kind, "SELECT 7, 3, 5, '{}'", "kind Some(7)"),
            (with_kind, "SELECT NULL, 3, 5, '{}'", "kind None"),
            (
                with_kind,
                "SELECT 1, 2, 5, '{}' UNION ALL SELECT 0, 3, NULL, '{}'",
                "came after events",
            ),
            (events_only, "SELECT NULL, 5, '{}'", "version is NULL"),
            (events_only, "SELECT 0, 5, '{}'", "versions start at 1"),
            (events_only, "SELECT 2, NULL, '{}'", "no position"),
            (events_only, "SELECT 2, 5, NULL", "event is NULL"),
            (events_only, "SELECT 'two', 5, '{}'", "mismatched types"),
            (
                events_only,
                "SELECT 1, 4, '{}' UNION ALL SELECT 2, NULL, '{}'",
                "no position",
            ),
        ];
        for (operation, statement, expected) in cases {
            let rows = sqlx::query(statement).fetch(store.pool());
            let mut seen = Vec::new();
            let outcome = visit_replayed(replay_span(&operation), rows, None, &operation, |item| {
                seen.push(matches!(item, Replayed::Event { .. }));
                Ok(())
            })
            .await;
            // An event row no evtstore writer makes is a broken history of the aggregate; a
            // row that is not even an event row is a database error.
            let Err(error @ (Error::Database { .. } | Error::BrokenHistory { .. })) = outcome
            else {
                panic!("{statement}: {outcome:?}");
            };
            assert!(
                format!("{error:?}").contains(expected),
                "{statement}: {error:?}"
            );
            assert!(seen.iter().all(|event| *event), "{statement}: {seen:?}");
        }
        // An events-only row is read as version, position, event.
        let mut seen = Vec::new();
        let rows = sqlx::query("SELECT 1, 9, '{\"a\":1}'").fetch(store.pool());
        let span = replay_span(&events_only);
        visit_replayed(span, rows, None, &events_only, |item| {
            if let Replayed::Event {
                version,
                position,
                event,
            } = item
            {
                seen.push((version, position, event.to_owned()));
            }
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(seen, [(1, Some(9), "{\"a\":1}".to_owned())]);
        // The store itself overrides replay: one statement, nothing on an empty database.
        store.migrate().await.unwrap();
        let mut visits = 0;
        store
            .replay("s", "a", 0, Some("v1"), |_| {
                visits += 1;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(visits, 0);
    }

    /// A migrated in-memory store holding the aggregate `s/a` with these versions and texts.
    async fn store_with_events(events: &[(i64, &str)]) -> SqliteStore {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        for (version, text) in events {
            sqlx::query(
                "INSERT INTO events (stream, aggregate_id, version, timestamp, event) \
                 VALUES ('s', 'a', ?, 0, ?)",
            )
            .bind(version)
            .bind(text)
            .execute(store.pool())
            .await
            .unwrap();
        }
        store
    }

    /// `replay_without_positions` of an aggregate without snapshots reads the texts alone,
    /// numbered from the first version after the start, and leaves the positions out.
    #[tokio::test]
    async fn replay_without_positions_reads_texts_alone() {
        let store =
            store_with_events(&[(1, r#"{"v":1}"#), (2, r#"{"v":2}"#), (3, r#"{"v":3}"#)]).await;
        let mut seen = Vec::new();
        store
            .replay_without_positions("s", "a", 1, None, |item| {
                if let Replayed::Event {
                    version,
                    position,
                    event,
                } = item
                {
                    seen.push((version, position, event.to_owned()));
                }
                Ok(())
            })
            .await
            .unwrap();
        let expected = [
            (2, None, r#"{"v":2}"#.to_owned()),
            (3, None, r#"{"v":3}"#.to_owned()),
        ];
        assert_eq!(seen, expected);
    }

    /// A history whose first stored text looks like the marker `replay_texts.sql` puts on its
    /// first row is not taken for whole: the marker begins with a number drawn for the read.
    #[tokio::test]
    async fn replay_without_positions_does_not_take_a_text_for_its_marker() {
        // Versions 2 and 3 (a gap at 1), the first text shaped as "<marker> <last> <event>".
        let store = store_with_events(&[(2, r#"0 2 {"v":2}"#), (3, r#"{"v":3}"#)]).await;
        let mut seen = Vec::new();
        store
            .replay_without_positions("s", "a", 0, None, |item| {
                if let Replayed::Event { version, event, .. } = item {
                    seen.push((version, event.to_owned()));
                }
                Ok(())
            })
            .await
            .unwrap();
        // As `replay` hands them over: the stored versions and texts.
        let expected = [
            (2, r#"0 2 {"v":2}"#.to_owned()),
            (3, r#"{"v":3}"#.to_owned()),
        ];
        assert_eq!(seen, expected);
    }

    /// An event stored as a blob is refused by `replay`, and so by `replay_without_positions`
    /// when it is the first row, which carries the marker.
    #[tokio::test]
    async fn first_event_stored_as_a_blob_is_refused_without_positions_too() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        sqlx::query(
            "INSERT INTO events (stream, aggregate_id, version, timestamp, event) \
             VALUES ('s', 'a', 1, 0, CAST('{}' AS BLOB)), ('s', 'a', 2, 0, '{}')",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let with = store.replay("s", "a", 0, None, |_| Ok(())).await;
        assert!(with.is_err(), "replay refuses a blob event");
        let without = store
            .replay_without_positions("s", "a", 0, None, |_| Ok(()))
            .await;
        assert!(without.is_err(), "{without:?}");
    }

    #[test]
    fn markers_are_read_only_with_their_number() {
        assert_eq!(strip_marker("42 7 {}", 42), Some((7, 5)));
        assert_eq!(&"42 7 {}"[5..], "{}");
        assert_eq!(strip_marker("-3 1000 {\"a\":1}", -3), Some((1000, 8)));
        assert_eq!(strip_marker("42 7 {}", 41), None);
        assert_eq!(strip_marker("{\"a\":1}", 42), None);
        assert_eq!(strip_marker("42 x {}", 42), None);
        assert_eq!(strip_marker("42 7", 42), None);
        assert_ne!(random_marker(), random_marker());
    }
}
