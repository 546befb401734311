//! The read models' tables, created at start by every process (idempotently, and safely when
//! several start at once).

use evtstore_sqlx::SqlStore;
use evtstore_sqlx::sqlx::{self, AssertSqlSafe, Connection as _};

/// Posts, newest first by the position of the event that created them; archived posts stay,
/// marked, so that an archive is an `UPDATE` of one row.
const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS service_posts (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        content TEXT NOT NULL,
        archived INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        position INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS service_posts_by_position ON service_posts (archived, position)",
    "CREATE INDEX IF NOT EXISTS service_posts_by_user ON service_posts (user_id, archived, position)",
    "CREATE TABLE IF NOT EXISTS service_users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        posts INTEGER NOT NULL)",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS service_posts (
        id VARCHAR(255) PRIMARY KEY,
        user_id VARCHAR(255) NOT NULL,
        content TEXT NOT NULL,
        archived BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS service_posts_by_position ON service_posts (archived, position)",
    "CREATE INDEX IF NOT EXISTS service_posts_by_user ON service_posts (user_id, archived, position)",
    "CREATE TABLE IF NOT EXISTS service_users (
        id VARCHAR(255) PRIMARY KEY,
        name TEXT NOT NULL,
        enabled BOOLEAN NOT NULL,
        posts BIGINT NOT NULL)",
];

/// Ids compare byte for byte, as the events table's do.
const MYSQL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS service_posts (
        id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
        user_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        content TEXT CHARACTER SET utf8mb4 NOT NULL,
        archived BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        position BIGINT NOT NULL,
        INDEX service_posts_by_position (archived, position),
        INDEX service_posts_by_user (user_id, archived, position)
    ) ENGINE = InnoDB",
    "CREATE TABLE IF NOT EXISTS service_users (
        id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
        name TEXT CHARACTER SET utf8mb4 NOT NULL,
        enabled BOOLEAN NOT NULL,
        posts BIGINT NOT NULL
    ) ENGINE = InnoDB",
];

/// Creates the read models' tables where they are missing.
///
/// # Errors
/// The database's errors.
pub async fn create_tables(store: &SqlStore) -> Result<(), sqlx::Error> {
    match store {
        SqlStore::Sqlite(store) => {
            for sql in SQLITE {
                sqlx::query(AssertSqlSafe(*sql))
                    .execute(store.pool())
                    .await?;
            }
        }
        SqlStore::Postgres(store) => {
            // Two processes creating the same table at once can both pass `IF NOT EXISTS` and
            // one then fails on the catalog's unique index: take turns.
            let mut connection = store.pool().acquire().await?;
            let mut transaction = connection.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('evtstore service read models'))")
                .execute(&mut *transaction)
                .await?;
            for sql in POSTGRES {
                sqlx::query(AssertSqlSafe(*sql))
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
        }
        SqlStore::MySql(store) => {
            for sql in MYSQL {
                sqlx::query(AssertSqlSafe(*sql))
                    .execute(store.pool())
                    .await?;
            }
        }
        _ => return Err(crate::sql::unsupported()),
    }
    Ok(())
}
