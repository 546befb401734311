//! What the HTTP routes read: pages of posts (newest first) and a user's stats.

use evtstore_sqlx::SqlStore;
use evtstore_sqlx::sqlx;
use serde::Serialize;

use crate::sql::{Arg, fetch_all};

/// A post as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostView {
    /// The post's id.
    pub id: String,
    /// Who wrote it.
    pub user_id: String,
    /// The author's name, once the `user-stats` read model has it.
    pub author: Option<String>,
    /// What it says.
    pub content: String,
    /// When it was written, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// The position of the event that created it: the paging key (`?before=`).
    pub position: i64,
}

/// A user's stats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// The user's id.
    pub id: String,
    /// Their name.
    pub name: String,
    /// Whether they may post.
    pub enabled: bool,
    /// How many posts they wrote, archived ones included.
    pub posts: i64,
}

/// Up to `limit` live posts (of one user, or of everyone) created before `before` (a
/// position), newest first.
///
/// # Errors
/// The database's errors.
pub async fn list_posts(
    store: &SqlStore,
    user_id: Option<&str>,
    before: i64,
    limit: i64,
) -> Result<Vec<PostView>, sqlx::Error> {
    const SELECT: &str = "SELECT p.id, p.user_id, u.name, p.content, p.created_at, p.position \
                          FROM service_posts p LEFT JOIN service_users u ON u.id = p.user_id \
                          WHERE p.archived = ? AND p.position < ?";
    const ORDER: &str = "ORDER BY p.position DESC LIMIT ?";
    let (sql, args) = match user_id {
        Some(user_id) => (
            format!("{SELECT} AND p.user_id = ? {ORDER}"),
            vec![
                Arg::Bool(false),
                Arg::Int(before),
                Arg::Text(user_id),
                Arg::Int(limit),
            ],
        ),
        None => (
            format!("{SELECT} {ORDER}"),
            vec![Arg::Bool(false), Arg::Int(before), Arg::Int(limit)],
        ),
    };
    fetch_all!(store, &sql, &args, |row| Ok(PostView {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        author: row.try_get(2)?,
        content: row.try_get(3)?,
        created_at: row.try_get(4)?,
        position: row.try_get(5)?,
    }))
}

/// The stats of user `id`, if the read model has them.
///
/// # Errors
/// The database's errors.
pub async fn user(store: &SqlStore, id: &str) -> Result<Option<UserView>, sqlx::Error> {
    let rows = fetch_all!(
        store,
        "SELECT id, name, enabled, posts FROM service_users WHERE id = ?",
        &[Arg::Text(id)],
        |row| Ok(UserView {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            enabled: row.try_get(2)?,
            posts: row.try_get(3)?,
        })
    )?;
    Ok(rows.into_iter().next())
}
