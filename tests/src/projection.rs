//! A read model kept in a table of the store's own database and written through the
//! handler's transaction, so that the suite can check what a transactional projection commits
//! on every store: rows `(position, aggregate_id)` with no unique key, so that an event
//! applied twice shows as two rows instead of an error.
//!
//! The memory store has no tables: its "table" is a list that the transaction's commit
//! appends to ([`MemoryTransaction::on_commit`]).

use std::future::Future;
use std::sync::{Arc, Mutex};

use evtstore::prelude::*;
use evtstore_sqlx::sqlx;
use evtstore_sqlx::{MySqlStore, PgStore, SqliteStore};

use crate::domain::UserEventProjection;

/// One projected event: its position and aggregate.
pub type Row = (i64, String);

/// Where a [`TableModel`] writes: a table name, and the committed rows of the memory store.
#[derive(Clone, Debug)]
pub struct Table {
    /// The table's name; a plain identifier.
    pub name: String,
    committed: Arc<Mutex<Vec<Row>>>,
}

impl Table {
    /// A table called `name`.
    pub fn new(name: &str) -> Self {
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "test table names are plain identifiers"
        );
        Table {
            name: name.to_owned(),
            committed: Arc::default(),
        }
    }
}

/// A transaction a [`TableModel`] can write a row through.
pub trait RowWriter: Send {
    /// Inserts `row` into `table` inside the transaction.
    fn insert_row(
        &mut self,
        table: &Table,
        row: Row,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// A store whose database can hold a [`Table`].
pub trait ProjectionStore: Store<Transaction: RowWriter> {
    /// Creates the table (if it does not exist).
    fn create_table(&self, table: &Table) -> impl Future<Output = ()> + Send;

    /// The committed rows, by position.
    fn rows(&self, table: &Table) -> impl Future<Output = Vec<Row>> + Send;
}

impl RowWriter for MemoryTransaction {
    async fn insert_row(&mut self, table: &Table, row: Row) -> Result<(), String> {
        let committed = Arc::clone(&table.committed);
        self.on_commit(move || committed.lock().unwrap().push(row));
        Ok(())
    }
}

impl ProjectionStore for MemoryStore {
    async fn create_table(&self, _table: &Table) {}

    async fn rows(&self, table: &Table) -> Vec<Row> {
        let mut rows = table.committed.lock().unwrap().clone();
        rows.sort();
        rows
    }
}

/// `ProjectionStore` and `RowWriter` for one sqlx backend: only the placeholders differ.
macro_rules! sql_projection_store {
    ($store:ty, $db:ty, insert = $insert:literal) => {
        impl RowWriter for sqlx::Transaction<'static, $db> {
            async fn insert_row(
                &mut self,
                table: &Table,
                (position, id): Row,
            ) -> Result<(), String> {
                let statement = format!(
                    "INSERT INTO {} (position, aggregate_id) VALUES {}",
                    table.name, $insert
                );
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .bind(position)
                    .bind(id)
                    .execute(&mut **self)
                    .await
                    .map(drop)
                    .map_err(|error| error.to_string())
            }
        }

        impl ProjectionStore for $store {
            async fn create_table(&self, table: &Table) {
                let statement = format!(
                    "CREATE TABLE IF NOT EXISTS {} \
                     (position BIGINT NOT NULL, aggregate_id VARCHAR(255) NOT NULL)",
                    table.name
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                    .execute(self.pool())
                    .await
                    .unwrap_or_else(|error| panic!("cannot create table {}: {error}", table.name));
            }

            async fn rows(&self, table: &Table) -> Vec<Row> {
                let statement = format!(
                    "SELECT position, aggregate_id FROM {} ORDER BY position, aggregate_id",
                    table.name
                );
                sqlx::query_as(sqlx::AssertSqlSafe(statement))
                    .fetch_all(self.pool())
                    .await
                    .unwrap_or_else(|error| panic!("cannot read table {}: {error}", table.name))
            }
        }
    };
}

sql_projection_store!(SqliteStore, sqlx::Sqlite, insert = "(?, ?)");
sql_projection_store!(PgStore, sqlx::Postgres, insert = "($1, $2)");
sql_projection_store!(MySqlStore, sqlx::MySql, insert = "(?, ?)");

/// A transactional read model of the users stream: one row per event, written through the
/// page's transaction. An event of the aggregate `fail_on` is written and then fails, so that
/// its write must be rolled back.
#[derive(Debug)]
pub struct TableModel {
    /// Where the rows go.
    pub table: Table,
    /// The aggregate whose events fail after their row was written.
    pub fail_on: Option<String>,
}

impl TableModel {
    /// A model writing to `table`, failing on nothing.
    pub fn new(table: Table) -> Self {
        TableModel {
            table,
            fail_on: None,
        }
    }

    async fn write<Tx: RowWriter>(
        &self,
        transaction: &mut Tx,
        aggregate_id: &str,
        meta: &EventMeta,
    ) -> HandlerResult {
        transaction
            .insert_row(&self.table, (meta.position(), aggregate_id.to_owned()))
            .await?;
        if self.fail_on.as_deref() == Some(aggregate_id) {
            return Err(format!("{aggregate_id} is refused by the model").into());
        }
        Ok(())
    }
}

impl<Tx: RowWriter> UserEventProjection<Tx> for TableModel {
    async fn created(
        &self,
        transaction: &mut Tx,
        aggregate_id: &str,
        _name: &String,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.write(transaction, aggregate_id, meta).await
    }

    async fn disabled(
        &self,
        transaction: &mut Tx,
        aggregate_id: &str,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.write(transaction, aggregate_id, meta).await
    }

    async fn enabled(
        &self,
        transaction: &mut Tx,
        aggregate_id: &str,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.write(transaction, aggregate_id, meta).await
    }
}
