//! The MySQL/MariaDB store.
//!
//! Positions come from a one-row sequence table whose row each append locks until it commits:
//! appends run one at a time, positions commit in order, and reading by position is gap-free.
//! (An `AUTO_INCREMENT` position can commit out of order, and a single-statement
//! `INSERT .. SELECT MAX(version) + 1` deadlocks on MariaDB 10.11 under concurrent writers,
//! reported as error 1467.) Cursors carry no commit key (`commit` is 0).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use evtstore::{Append, Cursor, Error, HandlerLock, RecordedEvent, Replayed, Snapshot, Store};
use sqlx::AssertSqlSafe;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};

use crate::Tables;
use crate::common::{
    Decoding, Replaying, RunningHandlers, appending, conflict, db_error, decode_event,
    decode_event_of, first_version, snapshot_from_row, snapshot_version, statements,
    visit_replayed,
};

/// MySQL's error number for a duplicate key.
const DUPLICATE_KEY: u16 = 1062;

#[derive(Debug)]
struct Sql {
    migrate: String,
    has_metadata: Arc<str>,
    add_metadata: Arc<str>,
    allocate: Arc<str>,
    append: String,
    load: Arc<str>,
    replay: Arc<str>,
    read: String,
    last_position: String,
    bookmark_get: Arc<str>,
    bookmark_set: Arc<str>,
    snapshot_get: Arc<str>,
    snapshot_set: Arc<str>,
}

impl Sql {
    fn new(tables: &Tables) -> Self {
        let render = |template: &str| Arc::from(tables.render(template));
        Sql {
            migrate: tables.render(include_str!("sql/mysql/migrate.sql")),
            has_metadata: render(include_str!("sql/mysql/has_metadata.sql")),
            add_metadata: render(include_str!("sql/mysql/add_metadata.sql")),
            allocate: render(include_str!("sql/mysql/allocate.sql")),
            append: tables.render(include_str!("sql/mysql/append.sql")),
            load: render(include_str!("sql/mysql/load.sql")),
            replay: render(include_str!("sql/mysql/replay.sql")),
            read: tables.render(include_str!("sql/mysql/read.sql")),
            last_position: tables.render(include_str!("sql/mysql/last_position.sql")),
            bookmark_get: render(include_str!("sql/mysql/bookmark_get.sql")),
            bookmark_set: render(include_str!("sql/mysql/bookmark_set.sql")),
            snapshot_get: render(include_str!("sql/mysql/snapshot_get.sql")),
            snapshot_set: render(include_str!("sql/mysql/snapshot_set.sql")),
        }
    }

    /// The append statement for `count` events.
    fn append(&self, count: usize) -> String {
        let rows = vec!["SELECT ? AS p, ? AS v, ? AS e"; count].join(" UNION ALL ");
        self.append.replace("{rows}", &rows)
    }

    /// A statement taking a list of streams, with one placeholder per stream.
    fn with_streams(template: &str, count: usize) -> String {
        let placeholders = vec!["?"; count.max(1)].join(", ");
        template.replace("{streams}", &placeholders)
    }
}

/// A statement as sqlx wants it. The text comes from this crate's `.sql` files with validated
/// table names and placeholders substituted, never from user data.
fn sql(statement: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(Arc::clone(statement))
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
#[derive(Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
    tables: Arc<Tables>,
    sql: Arc<Sql>,
    running_handlers: RunningHandlers,
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
        let pool = MySqlPoolOptions::new()
            .connect_with(options)
            .await
            .map_err(|error| db_error("connecting to MySQL", error))?;
        Ok(Self::from_pool(pool, tables))
    }

    /// A store over an existing pool. Its connections should keep sqlx's default UTC
    /// `time_zone`: timestamps are stored as `DATETIME` in the session's time zone.
    pub fn from_pool(pool: MySqlPool, tables: Tables) -> Self {
        let sql = Arc::new(Sql::new(&tables));
        MySqlStore {
            pool,
            tables: Arc::new(tables),
            sql,
            running_handlers: RunningHandlers::default(),
        }
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The table names.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Creates the tables that are missing, adds the column a database written by the
    /// TypeScript evtstore lacks, and brings the position sequence up to the last event. Safe
    /// to run at every start. (MySQL commits each DDL statement on its own: a failure can leave
    /// part of the schema created; running it again completes it.)
    ///
    /// # Errors
    /// [`Error::Database`] when a statement fails.
    pub async fn migrate(&self) -> Result<(), Error> {
        let operation = format_args!("migrating the MySQL schema ({})", self.tables);
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|error| db_error(operation, error))?;
        for statement in statements(&self.sql.migrate) {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut *conn)
                .await
                .map_err(|error| db_error(operation, error))?;
        }
        let has_metadata: i64 = sqlx::query_scalar(sql(&self.sql.has_metadata))
            .fetch_one(&mut *conn)
            .await
            .map_err(|error| db_error(operation, error))?;
        if has_metadata == 0 {
            sqlx::raw_sql(sql(&self.sql.add_metadata))
                .execute(&mut *conn)
                .await
                .map_err(|error| db_error(operation, error))?;
        }
        Ok(())
    }

    async fn try_append(&self, append: &Append<'_>, first: i64) -> Result<bool, sqlx::Error> {
        let count = append.events.len();
        let mut tx = self.pool.begin().await?;
        let allocated = sqlx::query(sql(&self.sql.allocate))
            .bind(count as u64)
            .execute(&mut *tx)
            .await?;
        if allocated.rows_affected() != 1 {
            return Err(sqlx::Error::Protocol(format!(
                "the position sequence `{}_sequence` has no row: run migrate()",
                self.tables.events()
            )));
        }
        let last = allocated.last_insert_id();
        let first_position = last + 1 - count as u64;
        // Placeholders in text order: the shared columns, the rows, the version check.
        let mut query = sqlx::query(AssertSqlSafe(self.sql.append(count)))
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
            .await?;
        if inserted.rows_affected() != count as u64 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }
}

fn decode_rows(
    rows: &[MySqlRow],
    operation: &dyn fmt::Display,
) -> Result<Vec<RecordedEvent>, Error> {
    rows.iter()
        .map(|row| decode_event(row, operation))
        .collect()
}

fn is_duplicate_version(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .is_some_and(|mysql| mysql.number() == DUPLICATE_KEY && mysql.message().contains("version"))
}

impl Store for MySqlStore {
    async fn append(&self, append: Append<'_>) -> Result<(), Error> {
        let Some(first) = first_version(&append)? else {
            return Ok(());
        };
        match self.try_append(&append, first).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(conflict(&append)),
            Err(error) if is_duplicate_version(&error) => Err(conflict(&append)),
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
            .bind(i64::try_from(after_version).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|error| db_error(&operation, error))?;
        rows.iter()
            .map(|row| {
                decode_event_of(
                    row,
                    Some((stream, aggregate_id)),
                    Decoding::Checked,
                    &operation,
                )
            })
            .collect()
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
        let after = i64::try_from(after_version).unwrap_or(i64::MAX);
        // Placeholders in text order (see replay.sql).
        let rows = sqlx::query(sql(&self.sql.replay))
            .bind(stream)
            .bind(aggregate_id)
            .bind(snapshot_tag)
            .bind(after)
            .bind(stream)
            .bind(aggregate_id)
            .bind(after)
            .bind(stream)
            .bind(aggregate_id)
            .bind(snapshot_tag)
            .fetch(&self.pool);
        let operation = Replaying {
            stream,
            aggregate_id,
        };
        visit_replayed(rows, None, &operation, visit).await
    }

    async fn read(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, Error> {
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        let operation = format!("reading {streams:?} after position {}", after.position);
        let mut query = sqlx::query(AssertSqlSafe(Sql::with_streams(
            &self.sql.read,
            streams.len(),
        )))
        .bind(after.position);
        for stream in streams {
            query = query.bind(*stream);
        }
        let rows = query
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|error| db_error(&operation, error))?;
        decode_rows(&rows, &operation)
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
        let position: Option<i64> = query
            .fetch_optional(&self.pool)
            .await
            .map_err(|error| db_error(format_args!("finding the end of {streams:?}"), error))?;
        Ok(position.map_or(Cursor::START, Cursor::at))
    }

    async fn bookmark(&self, name: &str) -> Result<Option<Cursor>, Error> {
        let position: Option<Option<i64>> = sqlx::query_scalar(sql(&self.sql.bookmark_get))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|error| db_error(format_args!("reading bookmark `{name}`"), error))?;
        Ok(position.map(|position| Cursor::at(position.unwrap_or(0))))
    }

    async fn set_bookmark(&self, name: &str, cursor: Cursor) -> Result<(), Error> {
        sqlx::query(sql(&self.sql.bookmark_set))
            .bind(name)
            .bind(cursor.position)
            .execute(&self.pool)
            .await
            .map_err(|error| db_error(format_args!("storing bookmark `{name}`"), error))?;
        Ok(())
    }

    async fn snapshot(&self, stream: &str, aggregate_id: &str) -> Result<Option<Snapshot>, Error> {
        let operation = format!("reading the snapshot of {stream}/{aggregate_id}");
        let row = sqlx::query(sql(&self.sql.snapshot_get))
            .bind(stream)
            .bind(aggregate_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|error| db_error(&operation, error))?;
        row.map(|row| snapshot_from_row(&row, &operation))
            .transpose()
    }

    async fn save_snapshot(
        &self,
        stream: &str,
        aggregate_id: &str,
        snapshot: &Snapshot,
    ) -> Result<(), Error> {
        let operation = format!("storing the snapshot of {stream}/{aggregate_id}");
        let version = snapshot_version(snapshot, &operation)?;
        sqlx::query(sql(&self.sql.snapshot_set))
            .bind(stream)
            .bind(aggregate_id)
            .bind(version)
            .bind(snapshot.tag.as_str())
            .bind(snapshot.state.as_str())
            .execute(&self.pool)
            .await
            .map_err(|error| db_error(&operation, error))?;
        Ok(())
    }

    async fn lock_handler(&self, name: &str) -> Result<HandlerLock, Error> {
        self.running_handlers.lock(name)
    }
}
