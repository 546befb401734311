//! The HTTP API: commands in, queries and health out.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /users/{id}` | a user command: `{"type":"create","name":"Alice"}`, `{"type":"disable"}`, `{"type":"enable"}` |
//! | `GET /users/{id}` | the user's name, whether they may post, and how many posts they wrote |
//! | `GET /users/{id}/posts` | the user's live posts, newest first (`?limit=&before=`) |
//! | `POST /posts/{id}` | a post command: `{"type":"createPost","content":".."}`, `{"type":"archivePost"}` |
//! | `GET /posts` | every live post, newest first (`?limit=&before=`) |
//! | `GET /health` | each projection's lag and who runs it |
//!
//! Commands read these headers: `X-User` (the acting user, stored with the events and seen by
//! the rules), `X-Correlation-Id`, and `Idempotency-Key` (a retried request with the same key
//! on the same aggregate appends nothing and answers as the first did; a key reused for
//! another command is 422 `idempotency_key_reused`). `X-User` is trusted as sent: in
//! production it must come from an authenticating proxy (or be replaced by a session or token
//! check), never from the client. `?wait_for=posts` (or `user-stats`) makes the response wait
//! until that read model has the command's events, for at most `wait_ms` (default 2000, at
//! most 10000); the response says whether it caught up.
//!
//! Errors are JSON, `{"error": code, "message": text}`: 400 `bad_json` (not JSON, or the
//! command's fields are wrong), 400 `bad_input`/`bad_request`, 404 `unknown_command` (the
//! `type` names no command of the stream) and `not_found`, 405 `method_not_allowed`, 409
//! `conflict` (other writers won every retry), 413 `too_large`, 422 `refused` (the domain's
//! rules said no) and `idempotency_key_reused`, 503 `unavailable` (the database failed) and
//! 500 `internal`.

mod commands;
mod error;
mod health;
mod idempotency;
mod queries;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::app::App;
pub use error::ApiError;

/// The service's routes over `app`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/users/{id}", post(commands::user).get(queries::user))
        .route("/users/{id}/posts", get(queries::user_posts))
        .route("/posts", get(queries::posts))
        .route("/posts/{id}", post(commands::post))
        .route("/health", get(health::health))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(middleware::from_fn(log_request))
        .with_state(app)
}

/// One line per request: method, path, status and duration.
async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis(),
        "request"
    );
    response
}
