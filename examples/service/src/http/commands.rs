//! `POST /users/{id}` and `POST /posts/{id}`: a command as JSON, executed with the caller's
//! metadata, answered with the aggregate after it.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use evtstore::{Agg, Aggregate, CommandSet, Commands, Metadata};
use evtstore_sqlx::SqlStore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::domain::{PostCommand, PostEvent, UserCommand, UserEvent};
use crate::http::{ApiError, idempotency};

/// How long a command may wait for a read model unless it says (`wait_ms`).
const DEFAULT_WAIT: Duration = Duration::from_secs(2);
/// The longest wait a command may ask for.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// The query parameters of a command.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CommandParams {
    /// The read model to wait for before answering.
    wait_for: Option<String>,
    /// How long to wait for it, in milliseconds.
    wait_ms: Option<u64>,
}

/// The answer to a command.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CommandResponse<S> {
    id: String,
    /// The aggregate's version after the command (its number of events).
    version: u64,
    state: S,
    /// Whether the read model asked for with `wait_for` has the command's events.
    #[serde(skip_serializing_if = "Option::is_none")]
    read_model: Option<ReadModelCaughtUp>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadModelCaughtUp {
    name: String,
    caught_up: bool,
}

/// `POST /users/{id}`.
pub(super) async fn user(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<CommandParams>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CommandResponse<crate::domain::User>>, ApiError> {
    let Path(id) = id?;
    let command: UserCommand = parse_command(&body?, UserEvent::STREAM, UserCommand::TYPES)?;
    execute(&app, &app.users, &id, &command, params, &headers).await
}

/// `POST /posts/{id}`.
pub(super) async fn post(
    State(app): State<Arc<App>>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<CommandParams>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CommandResponse<crate::domain::Post>>, ApiError> {
    let Path(id) = id?;
    let command: PostCommand = parse_command(&body?, PostEvent::STREAM, PostCommand::TYPES)?;
    execute(&app, &app.posts, &id, &command, params, &headers).await
}

/// Reads a command: JSON (else 400 `bad_json`), whose `type` is one of `types` (else 404
/// `unknown_command`, listing them), with that command's fields (else 400 `bad_json`, with
/// serde's words on what is wrong).
fn parse_command<T: DeserializeOwned>(
    body: &[u8],
    stream: &str,
    types: &[&str],
) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_json(format!("the body is not JSON: {error}")))?;
    let Some(command_type) = value.get("type").and_then(serde_json::Value::as_str) else {
        return Err(ApiError::bad_json(
            "a command is a JSON object with a string `type` field",
        ));
    };
    if !types.contains(&command_type) {
        return Err(ApiError::unknown_command(stream, command_type, types));
    }
    T::deserialize(&value)
        .map_err(|error| ApiError::bad_json(format!("not a `{command_type}` command: {error}")))
}

/// The metadata of a request: who acts, the correlation id, and the idempotency key.
fn metadata(headers: &HeaderMap) -> Result<Metadata, ApiError> {
    let header = |name: &str| -> Result<Option<String>, ApiError> {
        match headers.get(name) {
            None => Ok(None),
            Some(value) => value
                .to_str()
                .map(|value| Some(value.trim().to_owned()).filter(|value| !value.is_empty()))
                .map_err(|_| ApiError::bad_request(format!("the {name} header is not text"))),
        }
    };
    Ok(Metadata {
        user: header("x-user")?,
        correlation_id: header("x-correlation-id")?,
        command_id: header("idempotency-key")?,
        ..Metadata::default()
    })
}

/// Executes `command` on aggregate `id` and, if asked, waits for a read model.
async fn execute<C>(
    app: &App,
    commands: &Commands<SqlStore, C>,
    id: &str,
    command: &C::Command,
    params: Result<Query<CommandParams>, QueryRejection>,
    headers: &HeaderMap,
) -> Result<Json<CommandResponse<<C::Aggregate as Aggregate>::State>>, ApiError>
where
    C: CommandSet,
    C::Command: Serialize,
    <C::Aggregate as Aggregate>::State: Serialize,
{
    let Query(params) = params?;
    let mut metadata = metadata(headers)?;
    idempotency::stamp(&mut metadata, command)?;
    // Checked before the command runs, so that a typo does not execute it and then fail.
    let wait = match &params.wait_for {
        None => None,
        Some(name) => {
            let streams = app.read_model_streams(name).ok_or_else(|| {
                let known: Vec<&str> = app.read_models.iter().map(|model| model.name).collect();
                ApiError::bad_request(format!(
                    "no read model `{name}`; there are: {}",
                    known.join(", ")
                ))
            })?;
            let stream = C::Aggregate::STREAM;
            if !streams.contains(&stream) {
                return Err(ApiError::bad_request(format!(
                    "read model `{name}` does not follow {stream}; it follows: {}",
                    streams.join(", ")
                )));
            }
            let timeout = params
                .wait_ms
                .map_or(DEFAULT_WAIT, Duration::from_millis)
                .min(MAX_WAIT);
            Some((name.as_str(), timeout))
        }
    };
    let Agg {
        aggregate_id,
        version,
        state,
    } = commands.execute_with(id, command, &metadata).await?;
    idempotency::check_reuse::<C::Aggregate, _>(commands.domain(), id, &metadata).await?;
    // The events are stored: from here on the answer is a success, whatever the wait meets
    // (a client that took a failure for a refusal would send the command again).
    let read_model = match wait {
        None => None,
        Some((name, timeout)) => {
            let caught_up = app
                .wait_for(name, C::Aggregate::STREAM, timeout)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(read_model = name, %error, "waiting for the read model failed");
                    false
                });
            Some(ReadModelCaughtUp {
                name: name.to_owned(),
                caught_up,
            })
        }
    };
    Ok(Json(CommandResponse {
        id: aggregate_id,
        version,
        state,
        read_model,
    }))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::parse_command;
    use crate::domain::UserCommand;

    #[test]
    fn bad_json_unknown_commands_and_wrong_fields_differ() {
        let parse = |body: &str| {
            parse_command::<UserCommand>(body.as_bytes(), "users", UserCommand::TYPES)
                .map_err(|error| error.status())
        };
        assert!(matches!(
            parse(r#"{"type":"create","name":"Alice"}"#),
            Ok(UserCommand::Create { .. })
        ));
        assert_eq!(parse("{nope").unwrap_err(), StatusCode::BAD_REQUEST);
        assert_eq!(
            parse(r#"{"name":"x"}"#).unwrap_err(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse(r#"{"type":"fly"}"#).unwrap_err(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            parse(r#"{"type":"create"}"#).unwrap_err(),
            StatusCode::BAD_REQUEST
        );
    }
}
