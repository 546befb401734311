//! The `user-stats` read model: each user's name, whether they may post, and how many posts
//! they wrote.

use evtstore::prelude::*;
use evtstore_sqlx::SqlTransaction;

use crate::domain::{PostEventProjection, UserEventProjection};
use crate::sql::{Arg, execute};

/// Keeps `service_users`. Its handler follows the `users` and `posts` streams: a user's
/// `created` comes before their first post in the global order, so the count always has its
/// row.
#[derive(Debug, Default)]
pub struct UserStatsProjection;

impl UserEventProjection<SqlTransaction> for UserStatsProjection {
    async fn created(
        &self,
        transaction: &mut SqlTransaction,
        id: &str,
        name: &String,
        _meta: &EventMeta,
    ) -> HandlerResult {
        execute(
            transaction,
            "INSERT INTO service_users (id, name, enabled, posts) VALUES (?, ?, ?, 0)",
            &[Arg::Text(id), Arg::Text(name), Arg::Bool(true)],
        )
        .await?;
        Ok(())
    }

    async fn disabled(
        &self,
        transaction: &mut SqlTransaction,
        id: &str,
        _meta: &EventMeta,
    ) -> HandlerResult {
        set_enabled(transaction, id, false).await
    }

    async fn enabled(
        &self,
        transaction: &mut SqlTransaction,
        id: &str,
        _meta: &EventMeta,
    ) -> HandlerResult {
        set_enabled(transaction, id, true).await
    }
}

async fn set_enabled(transaction: &mut SqlTransaction, id: &str, enabled: bool) -> HandlerResult {
    execute(
        transaction,
        "UPDATE service_users SET enabled = ? WHERE id = ?",
        &[Arg::Bool(enabled), Arg::Text(id)],
    )
    .await?;
    Ok(())
}

impl PostEventProjection<SqlTransaction> for UserStatsProjection {
    /// Counts posts written; an archived post still counts.
    async fn post_created(
        &self,
        transaction: &mut SqlTransaction,
        _id: &str,
        _content: &String,
        user_id: &String,
        _meta: &EventMeta,
    ) -> HandlerResult {
        let changed = execute(
            transaction,
            "UPDATE service_users SET posts = posts + 1 WHERE id = ?",
            &[Arg::Text(user_id)],
        )
        .await?;
        if changed != 1 {
            // The command checks the author exists; a post without one means the history
            // was written by something else. Fail loudly rather than count nothing.
            return Err(format!("post by unknown user `{user_id}`").into());
        }
        Ok(())
    }
}
