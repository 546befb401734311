//! The domain of the issue 8 lines: a derived event enum in a stream of its own, the command
//! that appends n events, and read models that write one row per event into a table (a plain
//! handler through the pool, a transactional projection through the page's transaction) or
//! note when an event arrived.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

use crate::scenarios::Analyze;

/// An entry: the events the issue 8 lines fill their stream with.
#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "ledger", state = Ledger)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum LedgerEvent {
    Entered { amount: i64, note: String },
}

/// The ledger's state: nothing, as no scenario loads it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ledger;

impl LedgerEventFold for Ledger {
    fn entered(&mut self, _amount: &i64, _note: &String) {}
}

pub(crate) fn entered(n: usize) -> LedgerEvent {
    LedgerEvent::Entered {
        amount: 1,
        note: format!("entry number {n}"),
    }
}

/// Appends n entries.
#[derive(Debug)]
pub(crate) struct EntryCommands;

impl CommandSet for EntryCommands {
    type Aggregate = LedgerEvent;
    type Command = usize;

    async fn decide(&self, _: &Agg<Ledger>, count: &usize) -> CommandResult<LedgerEvent> {
        Ok((0..*count).map(entered).collect())
    }
}

/// One read-model row: the event's position, its aggregate and its amount.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row<'a> {
    pub(crate) position: i64,
    pub(crate) aggregate_id: &'a str,
    pub(crate) amount: i64,
}

/// A store whose database holds the read-model tables, with the backend's SQL for them.
pub(crate) trait ReadModelStore: Store<Transaction: RowWriter> + Analyze {
    /// The INSERT of one row into `table`, in the backend's placeholders.
    fn insert_sql(table: &str) -> Arc<str>;
    /// Creates `table`, keyed by position.
    fn create_table(&self, table: &str) -> impl Future<Output = ()> + Send;
    /// How many rows `table` holds, then drops it.
    fn count_and_drop(&self, table: &str) -> impl Future<Output = usize> + Send;
    /// Inserts one row on its own (autocommit), through the store's pool.
    fn insert_pooled(
        &self,
        insert: &Arc<str>,
        row: Row<'_>,
    ) -> impl Future<Output = HandlerResult> + Send;
}

/// A transaction a projection writes its rows through.
pub(crate) trait RowWriter: Send {
    fn insert_row(
        &mut self,
        insert: &Arc<str>,
        row: Row<'_>,
    ) -> impl Future<Output = HandlerResult> + Send;
}

/// `ReadModelStore` and `RowWriter` for one backend: only the placeholders differ.
macro_rules! read_model_store {
    ($store:ty, $db:ty, values = $values:literal) => {
        impl $crate::ledger::RowWriter for ::evtstore_sqlx::sqlx::Transaction<'static, $db> {
            async fn insert_row(
                &mut self,
                insert: &::std::sync::Arc<str>,
                row: $crate::ledger::Row<'_>,
            ) -> ::evtstore::HandlerResult {
                use ::evtstore_sqlx::sqlx;
                sqlx::query(sqlx::AssertSqlSafe(::std::sync::Arc::clone(insert)))
                    .bind(row.position)
                    .bind(row.aggregate_id)
                    .bind(row.amount)
                    .execute(&mut **self)
                    .await?;
                Ok(())
            }
        }

        impl $crate::ledger::ReadModelStore for $store {
            fn insert_sql(table: &str) -> ::std::sync::Arc<str> {
                format!(
                    "INSERT INTO {table} (position, aggregate_id, amount) VALUES {}",
                    $values
                )
                .into()
            }

            async fn create_table(&self, table: &str) {
                use ::evtstore_sqlx::sqlx;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "CREATE TABLE {table} (position BIGINT PRIMARY KEY, \
                     aggregate_id VARCHAR(255) NOT NULL, amount BIGINT NOT NULL)"
                )))
                .execute(self.pool())
                .await
                .expect("read-model table");
            }

            async fn count_and_drop(&self, table: &str) -> usize {
                use ::evtstore_sqlx::sqlx;
                let (rows,): (i64,) =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                        .fetch_one(self.pool())
                        .await
                        .expect("count the read model");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
                    .execute(self.pool())
                    .await
                    .expect("drop the read model");
                usize::try_from(rows).unwrap_or(0)
            }

            async fn insert_pooled(
                &self,
                insert: &::std::sync::Arc<str>,
                row: $crate::ledger::Row<'_>,
            ) -> ::evtstore::HandlerResult {
                use ::evtstore_sqlx::sqlx;
                sqlx::query(sqlx::AssertSqlSafe(::std::sync::Arc::clone(insert)))
                    .bind(row.position)
                    .bind(row.aggregate_id)
                    .bind(row.amount)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use read_model_store;

/// A plain handler's read model: one autocommit INSERT per event, through the store's pool.
#[derive(Debug)]
pub(crate) struct PooledRows<S> {
    pub(crate) store: S,
    pub(crate) insert: Arc<str>,
}

impl<S: ReadModelStore> LedgerEventHandler for PooledRows<S> {
    async fn entered(
        &self,
        aggregate_id: &str,
        amount: &i64,
        _note: &String,
        meta: &EventMeta,
    ) -> HandlerResult {
        let row = Row {
            position: meta.position(),
            aggregate_id,
            amount: *amount,
        };
        self.store.insert_pooled(&self.insert, row).await
    }
}

/// A transactional projection: one INSERT per event, through the page's transaction.
#[derive(Debug)]
pub(crate) struct ProjectedRows {
    pub(crate) insert: Arc<str>,
}

impl<Tx: RowWriter> LedgerEventProjection<Tx> for ProjectedRows {
    async fn entered(
        &self,
        transaction: &mut Tx,
        aggregate_id: &str,
        amount: &i64,
        _note: &String,
        meta: &EventMeta,
    ) -> HandlerResult {
        let row = Row {
            position: meta.position(),
            aggregate_id,
            amount: *amount,
        };
        transaction.insert_row(&self.insert, row).await
    }
}

/// A read model that writes nothing, as a plain handler and as a projection: what the engine
/// costs on its own.
#[derive(Debug)]
pub(crate) struct NoRows;

impl LedgerEventHandler for NoRows {}

impl<Tx: Send> LedgerEventProjection<Tx> for NoRows {}

/// A read model that reports, for every event, its aggregate and when it was handled.
#[derive(Debug)]
pub(crate) struct Arrivals(pub(crate) UnboundedSender<(String, Instant)>);

impl LedgerEventHandler for Arrivals {
    async fn entered(
        &self,
        aggregate_id: &str,
        _amount: &i64,
        _note: &String,
        _meta: &EventMeta,
    ) -> HandlerResult {
        // The receiver is gone only once the measurement has ended.
        let _ = self.0.send((aggregate_id.to_owned(), Instant::now()));
        Ok(())
    }
}
