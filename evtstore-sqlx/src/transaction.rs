//! The transaction of a [`SqlStore`](crate::SqlStore): the backend's own, whichever the URL
//! chose.

/// The open transaction a [`SqlStore`](crate::SqlStore) hands to a transactional projection
/// ([`evtstore::ProjectedBy`]) with each event: the backend's `sqlx::Transaction`, to be
/// matched on. A model written for one backend uses that backend's store type directly
/// ([`SqliteStore`](crate::SqliteStore), whose transaction is `sqlx::Transaction<'static,
/// Sqlite>`), and needs no match.
///
/// ```
/// use evtstore_sqlx::SqlTransaction;
///
/// async fn count_user(transaction: &mut SqlTransaction, id: &str) -> Result<(), sqlx::Error> {
///     let statement = "UPDATE user_counts SET n = n + 1 WHERE id = ";
///     match transaction {
///         #[cfg(feature = "sqlite")]
///         SqlTransaction::Sqlite(tx) => {
///             sqlx::query(sqlx::AssertSqlSafe(format!("{statement}?"))).bind(id).execute(&mut **tx).await?;
///         }
///         #[cfg(feature = "postgres")]
///         SqlTransaction::Postgres(tx) => {
///             sqlx::query(sqlx::AssertSqlSafe(format!("{statement}$1"))).bind(id).execute(&mut **tx).await?;
///         }
///         #[cfg(feature = "mysql")]
///         SqlTransaction::MySql(tx) => {
///             sqlx::query(sqlx::AssertSqlSafe(format!("{statement}?"))).bind(id).execute(&mut **tx).await?;
///         }
///         _ => {}
///     }
///     Ok(())
/// }
/// # use evtstore_sqlx::sqlx;
/// # let _ = count_user;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SqlTransaction {
    /// A SQLite transaction.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// A PostgreSQL transaction.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    /// A MySQL or MariaDB transaction.
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

/// Runs `$call` with the backend store and its transaction; a transaction of another backend
/// than the store's (which no handler hands over) is a configuration error.
macro_rules! dispatch_transaction {
    ($self:expr, $transaction:expr, $store:ident, $tx:ident => $call:expr) => {
        match ($self, $transaction) {
            #[cfg(feature = "sqlite")]
            (SqlStore::Sqlite($store), SqlTransaction::Sqlite($tx)) => $call,
            #[cfg(feature = "postgres")]
            (SqlStore::Postgres($store), SqlTransaction::Postgres($tx)) => $call,
            #[cfg(feature = "mysql")]
            (SqlStore::MySql($store), SqlTransaction::MySql($tx)) => $call,
            #[allow(unreachable_patterns)]
            _ => Err(Error::Config(
                "a transaction of one backend was handed to a store of another".to_owned(),
            )),
        }
    };
}
pub(crate) use dispatch_transaction;
