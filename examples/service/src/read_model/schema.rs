//! The read models' tables, created at start by every process (idempotently, and safely when
//! several start at once).

use evtstore_sqlx::SqlStore;
use evtstore_sqlx::sqlx::{self, AssertSqlSafe, Connection as _};

/// Creates the read models' tables where they are missing.
///
/// # Errors
/// The database's errors.
pub async fn create_tables(store: &SqlStore) -> Result<(), sqlx::Error> {
    match store {
        SqlStore::Sqlite(store) => {
            sqlx::raw_sql(AssertSqlSafe(include_str!("sql/sqlite.sql")))
                .execute(store.pool())
                .await?;
        }
        SqlStore::Postgres(store) => {
            // Two processes creating the same table at once can both pass `IF NOT EXISTS`, and
            // one then fails on the catalog's unique index: they take turns.
            let mut connection = store.pool().acquire().await?;
            let mut transaction = connection.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('evtstore service read models'))")
                .execute(&mut *transaction)
                .await?;
            sqlx::raw_sql(AssertSqlSafe(include_str!("sql/postgres.sql")))
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await?;
        }
        SqlStore::MySql(store) => {
            // DDL commits by itself on MySQL, and `CREATE TABLE IF NOT EXISTS` waits for a
            // concurrent creation of the same table under its metadata lock.
            sqlx::raw_sql(AssertSqlSafe(include_str!("sql/mysql.sql")))
                .execute(store.pool())
                .await?;
        }
        _ => return Err(crate::sql::unsupported()),
    }
    Ok(())
}
