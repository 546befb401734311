//! `GET /health`: whether the database answers, and each projection's lag and runner.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::app::App;
use crate::http::ApiError;

/// The health of the service as this process sees it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Health {
    /// `ok`, or `degraded` while a projection this process runs keeps failing: the service
    /// still answers (200), but that read model is stuck.
    status: &'static str,
    /// This process's id.
    pid: u32,
    handlers: Vec<HandlerHealth>,
}

/// One projection.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HandlerHealth {
    name: String,
    /// The position of the last event it handled; `None` before the first.
    position: Option<i64>,
    /// The position of the last event of its streams.
    last_position: i64,
    /// How many events it still has to read.
    behind: u64,
    /// Who runs it (`pid<process id>-<random>`); `None` while nobody does.
    holder: Option<String>,
    /// How long the holder's lease runs unless renewed.
    lease_left_ms: Option<u128>,
    /// Whether this process runs it.
    runs_here: bool,
    /// How long ago this process last handled one of its events.
    last_handled_ms_ago: Option<u128>,
    /// Its last failure in this process, while no batch has succeeded since.
    last_error: Option<String>,
}

/// `GET /health`: 200 with every projection's lag, or 503 when the database does not answer.
pub(super) async fn health(State(app): State<Arc<App>>) -> Result<Json<Health>, ApiError> {
    let handlers: Vec<HandlerHealth> = app
        .statuses()
        .await?
        .into_iter()
        .map(|(status, runs_here)| HandlerHealth {
            last_error: app
                .read_model(&status.bookmark)
                .and_then(|model| model.last_error()),
            name: status.bookmark,
            position: status.position.map(|cursor| cursor.position),
            last_position: status.last_cursor.position,
            behind: status.behind,
            lease_left_ms: status.holder.as_ref().map(|h| h.lease_left.as_millis()),
            holder: status.holder.map(|holder| holder.owner),
            runs_here,
            last_handled_ms_ago: status.last_handled.and_then(|at| {
                SystemTime::now()
                    .duration_since(at)
                    .ok()
                    .map(|ago| ago.as_millis())
            }),
        })
        .collect();
    let failing = handlers.iter().any(|handler| handler.last_error.is_some());
    Ok(Json(Health {
        status: if failing { "degraded" } else { "ok" },
        pid: std::process::id(),
        handlers,
    }))
}
