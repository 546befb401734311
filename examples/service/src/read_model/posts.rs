//! The `posts` read model: one row per post, for the post listings.

use evtstore::prelude::*;
use evtstore_sqlx::SqlTransaction;

use crate::domain::PostEventProjection;
use crate::sql::{Arg, execute};

/// Keeps `service_posts`. Its handler follows the `posts` stream.
#[derive(Debug, Default)]
pub struct PostsProjection;

impl PostEventProjection<SqlTransaction> for PostsProjection {
    async fn post_created(
        &self,
        transaction: &mut SqlTransaction,
        id: &str,
        content: &String,
        user_id: &String,
        meta: &EventMeta,
    ) -> HandlerResult {
        execute(
            transaction,
            "INSERT INTO service_posts (id, user_id, content, archived, created_at, position) \
             VALUES (?, ?, ?, ?, ?, ?)",
            &[
                Arg::Text(id),
                Arg::Text(user_id),
                Arg::Text(content),
                Arg::Bool(false),
                Arg::Int(meta.timestamp.as_millis()),
                Arg::Int(meta.position()),
            ],
        )
        .await?;
        Ok(())
    }

    async fn post_archived(
        &self,
        transaction: &mut SqlTransaction,
        id: &str,
        _meta: &EventMeta,
    ) -> HandlerResult {
        execute(
            transaction,
            "UPDATE service_posts SET archived = ? WHERE id = ?",
            &[Arg::Bool(true), Arg::Text(id)],
        )
        .await?;
        Ok(())
    }
}
