//! `GET /posts`, `GET /users/{id}/posts` and `GET /users/{id}`: answered from the read models'
//! tables, never from the events.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::http::ApiError;
use crate::read_model::{self, PostView, UserView};

/// Posts per page unless `limit` says.
const DEFAULT_LIMIT: i64 = 20;
/// The largest page.
const MAX_LIMIT: i64 = 100;

/// Paging: `limit` posts created before position `before`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Page {
    limit: Option<i64>,
    before: Option<i64>,
}

/// A page of posts, newest first; `next` is the `before` of the next page, when there may be
/// one.
#[derive(Debug, Serialize)]
pub(super) struct Posts {
    posts: Vec<PostView>,
    next: Option<i64>,
}

/// `GET /posts`.
pub(super) async fn posts(
    State(app): State<Arc<App>>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Posts>, ApiError> {
    list(&app, None, page).await
}

/// `GET /users/{id}/posts`.
pub(super) async fn user_posts(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Posts>, ApiError> {
    let Path(id) = id?;
    list(&app, Some(&id), page).await
}

async fn list(
    app: &App,
    user_id: Option<&str>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Posts>, ApiError> {
    let Query(page) = page?;
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit is 1 to {MAX_LIMIT}, not {limit}"
        )));
    }
    let before = page.before.unwrap_or(i64::MAX);
    let posts = read_model::list_posts(&app.store, user_id, before, limit).await?;
    let full = i64::try_from(posts.len()).is_ok_and(|len| len == limit);
    let next = posts.last().filter(|_| full).map(|post| post.position);
    Ok(Json(Posts { posts, next }))
}

/// `GET /users/{id}`.
pub(super) async fn user(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<UserView>, ApiError> {
    let Path(id) = id?;
    read_model::user(&app.store, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no user `{id}` in the read model")))
}
