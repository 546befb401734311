//! The read models' SQL on whichever backend `DATABASE_URL` chose: one statement text with `?`
//! placeholders (numbered `$1, $2, ..` for PostgreSQL), bound from a list of [`Arg`]s, run on
//! the projection's transaction or on the store's pool.
//!
//! A service written for one database would use that backend's store type and plain sqlx
//! instead; this one keeps all three so that the same tests run on each.

use evtstore_sqlx::SqlTransaction;
use evtstore_sqlx::sqlx::{self, AssertSqlSafe};

/// A value bound to a `?` placeholder.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// A text value.
    Text(&'a str),
    /// A 64-bit integer.
    Int(i64),
    /// A boolean (`TINYINT(1)` on MySQL, an integer on SQLite).
    Bool(bool),
}

/// The statement for a backend: PostgreSQL numbers its placeholders. The read models' SQL has
/// no `?` inside string literals, so every `?` is a placeholder.
pub(crate) fn statement(sql: &str, numbered: bool) -> AssertSqlSafe<String> {
    if !numbered {
        return AssertSqlSafe(sql.to_owned());
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut number = 0;
    for ch in sql.chars() {
        if ch == '?' {
            number += 1;
            out.push('$');
            out.push_str(&number.to_string());
        } else {
            out.push(ch);
        }
    }
    AssertSqlSafe(out)
}

/// Binds `args` to `query`, in order.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match *arg {
                $crate::sql::Arg::Text(value) => query.bind(value),
                $crate::sql::Arg::Int(value) => query.bind(value),
                $crate::sql::Arg::Bool(value) => query.bind(value),
            };
        }
        query
    }};
}

/// The error for a backend this service was not written for (`SqlStore` may grow one).
pub(crate) fn unsupported() -> sqlx::Error {
    sqlx::Error::Configuration("the service supports SQLite, PostgreSQL and MySQL only".into())
}

/// Runs one statement in a projection's transaction; returns the rows it changed.
pub async fn execute(
    transaction: &mut SqlTransaction,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<u64, sqlx::Error> {
    let changed = match transaction {
        SqlTransaction::Sqlite(tx) => bind_args!(sqlx::query(statement(sql, false)), args)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        SqlTransaction::Postgres(tx) => bind_args!(sqlx::query(statement(sql, true)), args)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        SqlTransaction::MySql(tx) => bind_args!(sqlx::query(statement(sql, false)), args)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        _ => return Err(unsupported()),
    };
    Ok(changed)
}

/// Runs a query on the store's pool and decodes each row with `$decode`, a block that reads
/// the row `$row` with `sqlx::Row::try_get` (expanded once per backend, so that the same text
/// decodes each backend's row type).
macro_rules! fetch_all {
    ($store:expr, $sql:expr, $args:expr, |$row:ident| $decode:expr) => {{
        use ::evtstore_sqlx::sqlx::{self, Row as _};
        let store: &::evtstore_sqlx::SqlStore = $store;
        let args: &[$crate::sql::Arg<'_>] = $args;
        match store {
            ::evtstore_sqlx::SqlStore::Sqlite(store) => {
                $crate::sql::fetch_all!(@on store.pool(), false, $sql, args, |$row| $decode)
            }
            ::evtstore_sqlx::SqlStore::Postgres(store) => {
                $crate::sql::fetch_all!(@on store.pool(), true, $sql, args, |$row| $decode)
            }
            ::evtstore_sqlx::SqlStore::MySql(store) => {
                $crate::sql::fetch_all!(@on store.pool(), false, $sql, args, |$row| $decode)
            }
            _ => Err($crate::sql::unsupported()),
        }
    }};
    // One backend's pool; `$postgres` numbers the placeholders.
    (@on $pool:expr, $postgres:expr, $sql:expr, $args:expr, |$row:ident| $decode:expr) => {{
        let rows = $crate::sql::bind_args!(sqlx::query($crate::sql::statement($sql, $postgres)), $args)
            .fetch_all($pool)
            .await?;
        rows.iter()
            .map(|$row| $decode)
            .collect::<Result<Vec<_>, sqlx::Error>>()
    }};
}
pub(crate) use bind_args;
pub(crate) use fetch_all;

#[cfg(test)]
mod tests {
    use super::statement;

    #[test]
    fn postgres_placeholders_are_numbered() {
        let sql = "UPDATE t SET a = ? WHERE id = ? AND b = ?";
        assert_eq!(
            statement(sql, true).0,
            "UPDATE t SET a = $1 WHERE id = $2 AND b = $3"
        );
        assert_eq!(statement(sql, false).0, sql);
    }
}
