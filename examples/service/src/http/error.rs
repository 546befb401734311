//! Every failure as an HTTP status and a JSON body `{"error": code, "message": text}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use evtstore::ErrorKind;
use evtstore_sqlx::sqlx;
use serde_json::json;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the body is not JSON, or not the fields of the command it names.
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_json", message)
    }

    /// 400: a query parameter or header that makes no sense.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404: the body's `type` names no command of the stream. Like an unknown path, the
    /// command is an operation the resource does not have; the message lists those it has.
    pub fn unknown_command(stream: &str, command: &str, known: &[&str]) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_command",
            format!(
                "`{command}` is not a command of {stream}; its commands are: {}",
                known.join(", ")
            ),
        )
    }

    /// 422: the `Idempotency-Key` was used before, on this aggregate, for another command.
    pub fn idempotency_key_reused(key: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            format!("the Idempotency-Key `{key}` was used before for another command"),
        )
    }

    /// 405: the address exists, not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this address does not take this method",
        )
    }

    /// 404: nothing at this address.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl ApiError {
    /// One `match` on the kind: refusals are the client's business (422), conflicts may pass
    /// on retry (409), outages are the server's (503, logged with their cause).
    fn of_kind(kind: ErrorKind, message: String) -> Self {
        match kind {
            ErrorKind::Refused => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", message),
            ErrorKind::Conflict => Self::new(StatusCode::CONFLICT, "conflict", message),
            ErrorKind::BadInput => Self::new(StatusCode::BAD_REQUEST, "bad_input", message),
            ErrorKind::Unavailable => {
                tracing::error!(error = %message, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; retry later",
                )
            }
            ErrorKind::Internal => {
                tracing::error!(error = %message, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the service's log has the cause",
                )
            }
        }
    }
}

impl From<evtstore::Error> for ApiError {
    fn from(error: evtstore::Error) -> Self {
        let message = match &error {
            // The refusal's own words, without the `stream/id:` prefix of `Display`.
            evtstore::Error::Command { source, .. } => source.to_string(),
            other => other.to_string(),
        };
        Self::of_kind(error.kind(), message)
    }
}

impl From<sqlx::Error> for ApiError {
    /// A read model query: a database that cannot be reached, or refuses connections, is an
    /// outage (503); a query that does not fit the tables is a bug (500), which a retry does
    /// not cure.
    fn from(error: sqlx::Error) -> Self {
        let kind = match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => ErrorKind::Unavailable,
            // SQLSTATE classes of a statement that is wrong, not of a server that is away:
            // data (22), constraints (23), syntax or access rules (42).
            sqlx::Error::Database(database) => {
                match database.code().as_deref().and_then(|code| code.get(..2)) {
                    Some("22" | "23" | "42") => ErrorKind::Internal,
                    _ => ErrorKind::Unavailable,
                }
            }
            _ => ErrorKind::Internal,
        };
        Self::of_kind(kind, format!("reading a read model: {error}"))
    }
}

/// Rejections of axum's extractors, as JSON like every other error.
macro_rules! from_rejection {
    ($($rejection:ty),*) => {$(
        impl From<$rejection> for ApiError {
            fn from(rejection: $rejection) -> Self {
                let status = rejection.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    status if status.is_server_error() => "internal",
                    _ => "bad_request",
                };
                Self::new(status, code, rejection.body_text())
            }
        }
    )*};
}

from_rejection!(
    axum::extract::rejection::PathRejection,
    axum::extract::rejection::QueryRejection,
    axum::extract::rejection::BytesRejection
);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}
