//! The read model of the handler process tests (`tests/tests/handler_processes.rs`): two
//! tables in the store's own database, kept by a transactional projection of the users
//! stream.
//!
//! - `<prefix>_log (position, aggregate_id, version)`: one row per event applied, with no
//!   unique key, so that an event applied twice shows as two rows instead of an error.
//! - `<prefix>_state (aggregate_id, version, events)`: the fold, per aggregate: the last
//!   version applied and how many events were. An event is applied only on top of the one
//!   before it (`version = v - 1`); anything else (a gap, a repeat, an order mix-up) fails the
//!   projection with a message that says so.
//!
//! After any crash, the tables must equal the fold of exactly the events up to the stored
//! bookmark: that is what the tests compare.

use std::collections::BTreeMap;

use evtstore::prelude::*;
use evtstore::{Cursor, RecordedEvent};
use evtstore_sqlx::sqlx;
use evtstore_sqlx::{SqlStore, SqlTransaction};

use crate::domain::UserEventProjection;

/// The two tables, by their common prefix (a plain identifier).
#[derive(Clone, Debug)]
pub struct FoldTables {
    prefix: String,
}

/// One row of the log: position, aggregate, version.
pub type Applied = (i64, String, i64);

/// The fold of one aggregate: last version applied and number of events applied.
pub type Folded = (i64, i64);

impl FoldTables {
    /// The tables `<prefix>_log` and `<prefix>_state`.
    pub fn new(prefix: &str) -> Self {
        assert!(
            prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "table prefixes are plain identifiers"
        );
        FoldTables {
            prefix: prefix.to_owned(),
        }
    }

    /// Creates the tables if they do not exist.
    pub async fn create(&self, store: &SqlStore) -> Result<(), sqlx::Error> {
        let prefix = &self.prefix;
        for statement in [
            format!(
                "CREATE TABLE IF NOT EXISTS {prefix}_log \
                 (position BIGINT NOT NULL, aggregate_id VARCHAR(255) NOT NULL, version BIGINT NOT NULL)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {prefix}_state \
                 (aggregate_id VARCHAR(255) NOT NULL PRIMARY KEY, version BIGINT NOT NULL, \
                 events BIGINT NOT NULL)"
            ),
        ] {
            let statement = sqlx::AssertSqlSafe(statement);
            match store {
                SqlStore::Sqlite(store) => sqlx::raw_sql(statement)
                    .execute(store.pool())
                    .await
                    .map(drop),
                SqlStore::Postgres(store) => sqlx::raw_sql(statement)
                    .execute(store.pool())
                    .await
                    .map(drop),
                SqlStore::MySql(store) => sqlx::raw_sql(statement)
                    .execute(store.pool())
                    .await
                    .map(drop),
                _ => unreachable!("the tests build every backend"),
            }?;
        }
        Ok(())
    }

    /// The log, by position, and the state, by aggregate.
    pub async fn read(
        &self,
        store: &SqlStore,
    ) -> Result<(Vec<Applied>, BTreeMap<String, Folded>), sqlx::Error> {
        let prefix = &self.prefix;
        let log = sqlx::AssertSqlSafe(format!(
            "SELECT position, aggregate_id, version FROM {prefix}_log ORDER BY position, aggregate_id"
        ));
        let state = sqlx::AssertSqlSafe(format!(
            "SELECT aggregate_id, version, events FROM {prefix}_state"
        ));
        let (log, state): (Vec<Applied>, Vec<(String, i64, i64)>) = match store {
            SqlStore::Sqlite(store) => (
                sqlx::query_as(log).fetch_all(store.pool()).await?,
                sqlx::query_as(state).fetch_all(store.pool()).await?,
            ),
            SqlStore::Postgres(store) => (
                sqlx::query_as(log).fetch_all(store.pool()).await?,
                sqlx::query_as(state).fetch_all(store.pool()).await?,
            ),
            SqlStore::MySql(store) => (
                sqlx::query_as(log).fetch_all(store.pool()).await?,
                sqlx::query_as(state).fetch_all(store.pool()).await?,
            ),
            _ => unreachable!("the tests build every backend"),
        };
        let state = state
            .into_iter()
            .map(|(id, version, events)| (id, (version, events)))
            .collect();
        Ok((log, state))
    }

    /// Applies one event inside `transaction`.
    async fn apply(
        &self,
        transaction: &mut SqlTransaction,
        position: i64,
        aggregate_id: &str,
        version: i64,
    ) -> Result<(), String> {
        let prefix = &self.prefix;
        let log =
            format!("INSERT INTO {prefix}_log (position, aggregate_id, version) VALUES (?, ?, ?)");
        let (fold, binds_version_first) = if version == 1 {
            (
                format!(
                    "INSERT INTO {prefix}_state (aggregate_id, version, events) VALUES (?, 1, 1)"
                ),
                false,
            )
        } else {
            (
                format!(
                    "UPDATE {prefix}_state SET version = ?, events = events + 1 \
                     WHERE aggregate_id = ? AND version = ?"
                ),
                true,
            )
        };
        /// Runs one statement with its binds on whichever backend the transaction is.
        macro_rules! run {
            ($tx:expr, $sql:expr, $($bind:expr),*) => {
                sqlx::query(sqlx::AssertSqlSafe($sql))$(.bind($bind))*.execute(&mut **$tx).await
                    .map(|done| done.rows_affected())
            };
        }
        let dollar = matches!(transaction, SqlTransaction::Postgres(_));
        let (log, fold) = (placeholders(&log, dollar), placeholders(&fold, dollar));
        let id = aggregate_id.to_owned();
        /// The log row, then the fold row, in one backend's transaction.
        macro_rules! apply {
            ($tx:expr) => {{
                run!($tx, log, position, id.clone(), version)?;
                if binds_version_first {
                    run!($tx, fold, version, id, version - 1)
                } else {
                    run!($tx, fold, id)
                }
            }};
        }
        let outcome: Result<u64, sqlx::Error> = async {
            match transaction {
                SqlTransaction::Sqlite(tx) => apply!(tx),
                SqlTransaction::Postgres(tx) => apply!(tx),
                SqlTransaction::MySql(tx) => apply!(tx),
                _ => unreachable!("the tests build every backend"),
            }
        }
        .await;
        match outcome {
            Ok(1) => Ok(()),
            Ok(_) => Err(format!(
                "{aggregate_id} version {version} is not applied on top of version {}: \
                 a gap, a repeat or an order mix-up",
                version - 1
            )),
            Err(error) => Err(format!(
                "{aggregate_id} version {version} (position {position}) cannot be applied: {error}"
            )),
        }
    }
}

/// `?` placeholders as `$1, $2, ..` for PostgreSQL.
fn placeholders(sql: &str, dollar: bool) -> String {
    if !dollar {
        return sql.to_owned();
    }
    let mut numbered = String::with_capacity(sql.len() + 8);
    let mut next = 0;
    for c in sql.chars() {
        if c == '?' {
            next += 1;
            numbered.push('$');
            numbered.push_str(&next.to_string());
        } else {
            numbered.push(c);
        }
    }
    numbered
}

/// What the tables should hold after the events `events` (in cursor order) were applied,
/// each once: the log and the fold.
pub fn expected_fold(events: &[RecordedEvent]) -> (Vec<Applied>, BTreeMap<String, Folded>) {
    let mut log: Vec<Applied> = events
        .iter()
        .map(|event| {
            (
                event.cursor.position,
                event.aggregate_id.clone(),
                i64::try_from(event.version).unwrap_or(i64::MAX),
            )
        })
        .collect();
    log.sort();
    let mut state: BTreeMap<String, Folded> = BTreeMap::new();
    for (_, id, version) in &log {
        let entry = state.entry(id.clone()).or_insert((0, 0));
        entry.0 = entry.0.max(*version);
        entry.1 += 1;
    }
    (log, state)
}

/// Every event of the users stream up to and including `until`; none for `None` (a handler
/// without a bookmark has applied nothing).
pub async fn events_until(
    store: &SqlStore,
    until: Option<Cursor>,
) -> Result<Vec<RecordedEvent>, evtstore::Error> {
    let Some(until) = until else {
        return Ok(Vec::new());
    };
    let mut events = Vec::new();
    let mut after = Cursor::START;
    loop {
        let page = store.read(&["users"], after, 5_000).await?;
        if page.is_empty() {
            return Ok(events);
        }
        for row in page {
            let event =
                row.map_err(|unreadable| evtstore::Error::Config(unreadable.to_string()))?;
            after = event.cursor;
            if event.cursor > until {
                return Ok(events);
            }
            events.push(event);
        }
    }
}

/// The transactional model that keeps [`FoldTables`].
#[derive(Debug)]
pub struct FoldModel {
    /// The tables it writes.
    pub tables: FoldTables,
}

impl FoldModel {
    async fn apply(
        &self,
        transaction: &mut SqlTransaction,
        aggregate_id: &str,
        meta: &EventMeta,
    ) -> HandlerResult {
        let version = i64::try_from(meta.version)?;
        self.tables
            .apply(transaction, meta.position(), aggregate_id, version)
            .await
            .map_err(Into::into)
    }
}

impl UserEventProjection<SqlTransaction> for FoldModel {
    async fn created(
        &self,
        transaction: &mut SqlTransaction,
        aggregate_id: &str,
        _name: &String,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.apply(transaction, aggregate_id, meta).await
    }

    async fn disabled(
        &self,
        transaction: &mut SqlTransaction,
        aggregate_id: &str,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.apply(transaction, aggregate_id, meta).await
    }

    async fn enabled(
        &self,
        transaction: &mut SqlTransaction,
        aggregate_id: &str,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.apply(transaction, aggregate_id, meta).await
    }
}
