//! The errors of evtstore: each says what happened and to which stream, aggregate or handler.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Any error a user's handler may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a command did not decide: refused by the user's own rules ("user already exists"), or
/// failed because something it needed failed (a `?` on a load of another aggregate).
///
/// Return a refusal from a command to stop it without appending anything; the caller receives
/// it inside [`Error::Command`]. Commands are never retried after a refusal.
///
/// An evtstore [`Error`] turns into a `CommandError` with `?`, keeping it whole: the caller
/// then receives that error itself, not a refusal, so that a database outage while a command
/// loads another aggregate reads as [`ErrorKind::Unavailable`], never as a business refusal.
///
/// ```
/// # use evtstore::doc_fixtures::UserEvent;
/// use evtstore::{CommandError, Domain, MemoryStore};
///
/// async fn may_follow(
///     domain: &Domain<MemoryStore>,
///     target: &str,
/// ) -> Result<(), CommandError> {
///     let followed = domain.load::<UserEvent>(target).await?;
///     if !followed.exists() {
///         return Err(CommandError::new("no such user").with_code("unknown-user"));
///     }
///     Ok(())
/// }
/// # let refused = tokio::runtime::Builder::new_current_thread().build().unwrap()
/// #     .block_on(may_follow(&Domain::new(MemoryStore::new()), "bob")).unwrap_err();
/// # assert!(refused.failure().is_none());
/// # assert_eq!(refused.code.as_deref(), Some("unknown-user"));
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// What the user is told.
    pub message: Cow<'static, str>,
    /// A stable machine-readable code, if the application uses them.
    pub code: Option<Cow<'static, str>>,
    /// The evtstore error this came from, when the command failed rather than refused.
    failure: Option<Arc<Error>>,
}

impl PartialEq for CommandError {
    fn eq(&self, other: &Self) -> bool {
        // Two failures are the same when they read the same: `Error` holds driver errors,
        // which cannot be compared.
        self.message == other.message
            && self.code == other.code
            && self.failure.is_some() == other.failure.is_some()
    }
}

impl Eq for CommandError {}

impl CommandError {
    /// A refusal with a message.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        CommandError {
            message: message.into(),
            code: None,
            failure: None,
        }
    }

    /// Adds a machine-readable code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The evtstore error the command failed on, when it failed rather than refused.
    #[must_use]
    pub fn failure(&self) -> Option<&Error> {
        self.failure.as_deref()
    }

    /// The error the caller of the command receives: the failure itself, or the refusal as
    /// [`Error::Command`].
    pub(crate) fn into_error(self, stream: &str, aggregate_id: &str) -> Error {
        match self.failure {
            Some(failure) => Arc::try_unwrap(failure).unwrap_or_else(|shared| Error::Failed {
                message: shared.to_string(),
                kind: shared.kind(),
            }),
            None => Error::Command {
                stream: stream.to_owned(),
                aggregate_id: aggregate_id.to_owned(),
                source: self,
            },
        }
    }
}

impl From<Error> for CommandError {
    fn from(error: Error) -> Self {
        CommandError {
            message: Cow::Owned(error.to_string()),
            code: None,
            failure: Some(Arc::new(error)),
        }
    }
}

/// What kind of failure an [`Error`] is, for a service to map it in one `match` (to an HTTP
/// status, a retry, an alert).
///
/// ```
/// use evtstore::{Error, ErrorKind};
///
/// fn status(error: &Error) -> u16 {
///     match error.kind() {
///         ErrorKind::Refused => 422,
///         ErrorKind::Conflict => 409,
///         ErrorKind::BadInput => 400,
///         ErrorKind::Unavailable => 503,
///         ErrorKind::Internal => 500,
///     }
/// }
/// # let error = Error::TooLong { what: "aggregate id", preview: "x".into(), length: 300, max: 255 };
/// # assert_eq!(status(&error), 400);
/// ```
///
/// Not `#[non_exhaustive]`, unlike [`Error`]: the kinds are a closed classification, so that
/// a service's `match` is checked by the compiler; a new kind would be a breaking release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The application's rules refused the command ([`Error::Command`]): the caller asked for
    /// something the current state does not allow. Retrying the same command changes nothing.
    Refused,
    /// Another writer or runner got there first and the retries ran out
    /// ([`Error::VersionConflict`]), or a handler runs elsewhere ([`Error::HandlerBusy`],
    /// [`Error::ClaimLost`]). Retrying later may succeed.
    Conflict,
    /// The input cannot be stored as given: a name or id too long for the store
    /// ([`Error::TooLong`]), a value that does not encode ([`Error::Encode`]).
    BadInput,
    /// The database failed or could not be reached ([`Error::Database`]). Nothing is known to
    /// be wrong with the request; retry later.
    Unavailable,
    /// Something is wrong with the stored data, the configuration or a handler: an event that
    /// does not decode, a broken history, a failing or panicking handler, a bad table name.
    Internal,
}

/// The error type of every evtstore operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An append hit a version the aggregate already has: another writer got there first.
    /// Commands retry on it; it reaches the caller only when the retries run out.
    #[error("version conflict on {stream}/{aggregate_id}: version {version} already exists")]
    VersionConflict {
        /// The aggregate's stream.
        stream: String,
        /// The aggregate.
        aggregate_id: String,
        /// The first version that could not be appended.
        version: u64,
    },

    /// A command refused by the application's rules.
    #[error("command on {stream}/{aggregate_id} refused: {source}")]
    Command {
        /// The aggregate's stream.
        stream: String,
        /// The aggregate.
        aggregate_id: String,
        /// The refusal.
        source: CommandError,
    },

    /// A stored event could not be turned into its Rust type.
    #[error(transparent)]
    Decode(#[from] DecodeError),

    /// A value could not be encoded as JSON.
    #[error("could not encode {what} of {stream}/{aggregate_id} as JSON: {source}")]
    Encode {
        /// What was being encoded ("event", "snapshot", "metadata").
        what: &'static str,
        /// The aggregate's stream.
        stream: String,
        /// The aggregate.
        aggregate_id: String,
        /// serde's reason.
        source: serde_json::Error,
    },

    /// The stored events of an aggregate are not its versions 1, 2, .. n in order: a row was
    /// written by something other than an evtstore writer (a version of 0 or below, a gap).
    /// Commands refuse such an aggregate rather than decide on a history that is not whole.
    #[error("the stored history of {stream}/{aggregate_id} is broken: {detail}")]
    BrokenHistory {
        /// The aggregate's stream.
        stream: String,
        /// The aggregate.
        aggregate_id: String,
        /// What was expected and what was found, with the row's position.
        detail: String,
    },

    /// An event handler failed on an event.
    #[error(
        "handler `{bookmark}` failed on {stream}/{aggregate_id} at position {position} \
         (type `{event_type}`): {source}"
    )]
    Handler {
        /// The handler's bookmark name.
        bookmark: String,
        /// The event's stream.
        stream: String,
        /// The event's aggregate.
        aggregate_id: String,
        /// The event's global position.
        position: i64,
        /// The event's stored type.
        event_type: String,
        /// What the handler returned.
        source: BoxError,
    },

    /// The model of a started handler panicked during a run. The handler reports it through
    /// its error hook, waits for its error back-off and runs again from its bookmark, which
    /// stays at the last page it finished: the events of the page that panicked are handed
    /// over again.
    #[error("handler `{bookmark}` panicked: {message}")]
    HandlerPanicked {
        /// The handler's bookmark name.
        bookmark: String,
        /// The panic's message, when it was a string.
        message: String,
    },

    /// A handler with this bookmark is already running in this process (or, on stores that
    /// support it, in another one).
    #[error("handler `{bookmark}` is already running")]
    HandlerBusy {
        /// The handler's bookmark name.
        bookmark: String,
    },

    /// A runner's claim on a handler (or one of its segments) was taken over by another
    /// runner, whose epoch is newer: the bookmark write or projection commit that found it
    /// was refused, and nothing of it was kept. The runner stops handling and tries to claim
    /// again.
    #[error("handler `{bookmark}` lost its claim (epoch {epoch}) to another runner")]
    ClaimLost {
        /// The bookmark name of the claim.
        bookmark: String,
        /// The epoch the runner held.
        epoch: i64,
    },

    /// A name or id is longer than the store's schema keeps (a bookmark name, stream or
    /// aggregate id over 255 characters on MySQL, say). Nothing was written.
    #[error("{what} `{preview}` is {length} characters long; the store keeps at most {max}")]
    TooLong {
        /// What the value is ("bookmark name", "aggregate id", ..).
        what: &'static str,
        /// The value's first characters.
        preview: String,
        /// Its length in characters.
        length: usize,
        /// The most the store keeps.
        max: usize,
    },

    /// The store's configuration is invalid (a bad table name, an unsupported URL).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A command failed on an error that another part of the program still holds (a
    /// [`CommandError`] made from an [`Error`] and cloned before it was returned): its message
    /// and kind, as the original error has no copy.
    #[error("{message}")]
    Failed {
        /// The original error's message.
        message: String,
        /// The original error's kind.
        kind: ErrorKind,
    },

    /// The database failed; `operation` says what evtstore was doing.
    #[error("database error while {operation}: {source}")]
    Database {
        /// What evtstore was doing ("appending to users/alice").
        operation: String,
        /// The driver's error, with the database's message.
        source: BoxError,
    },
}

impl Error {
    /// What kind of failure this is: see [`ErrorKind`].
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Command { .. } => ErrorKind::Refused,
            Error::VersionConflict { .. } | Error::HandlerBusy { .. } | Error::ClaimLost { .. } => {
                ErrorKind::Conflict
            }
            Error::TooLong { .. } | Error::Encode { .. } => ErrorKind::BadInput,
            Error::Database { .. } => ErrorKind::Unavailable,
            Error::Failed { kind, .. } => *kind,
            Error::Decode(_)
            | Error::BrokenHistory { .. }
            | Error::Handler { .. }
            | Error::HandlerPanicked { .. }
            | Error::Config(_) => ErrorKind::Internal,
        }
    }

    /// Whether this error is a version conflict.
    #[must_use]
    pub fn is_version_conflict(&self) -> bool {
        matches!(self, Error::VersionConflict { .. })
    }

    /// A database error while doing `operation`.
    pub fn database(operation: impl fmt::Display, source: impl Into<BoxError>) -> Self {
        Error::Database {
            operation: operation.to_string(),
            source: source.into(),
        }
    }
}

/// A stored event or snapshot that does not decode into the code's types.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The event's `type` is not a variant of the stream's event enum.
    #[error(
        "unknown event type `{event_type}` in {stream}/{aggregate_id} at position {position}; \
         known types: {known}"
    )]
    UnknownType {
        /// The event's stream.
        stream: String,
        /// The event's aggregate.
        aggregate_id: String,
        /// The event's global position.
        position: i64,
        /// The stored type.
        event_type: String,
        /// The types the code knows, comma-separated.
        known: String,
    },
    /// The event's JSON does not parse into its type.
    #[error(
        "malformed event in {stream}/{aggregate_id} at position {position} \
         (type `{event_type}`): {source}"
    )]
    Malformed {
        /// The event's stream.
        stream: String,
        /// The event's aggregate.
        aggregate_id: String,
        /// The event's global position.
        position: i64,
        /// The stored type, or `?` when the JSON has none.
        event_type: String,
        /// serde's reason.
        source: serde_json::Error,
    },
    /// A stored snapshot with the current tag does not parse into the state type.
    #[error("malformed snapshot of {stream}/{aggregate_id} (tag `{tag}`): {source}")]
    Snapshot {
        /// The aggregate's stream.
        stream: String,
        /// The aggregate.
        aggregate_id: String,
        /// The snapshot's tag.
        tag: String,
        /// serde's reason.
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_long() -> Error {
        Error::TooLong {
            what: "aggregate id",
            preview: "x".into(),
            length: 300,
            max: 255,
        }
    }

    #[test]
    fn a_failure_reaches_the_caller_as_itself() {
        let failed = CommandError::from(too_long());
        assert!(failed.failure().is_some());
        let error = failed.into_error("users", "alice");
        assert!(
            matches!(error, Error::TooLong { length: 300, .. }),
            "{error:?}"
        );
        assert_eq!(error.kind(), ErrorKind::BadInput);
    }

    #[test]
    fn a_cloned_failure_keeps_its_message_and_kind() {
        let failed = CommandError::from(too_long());
        let kept = failed.clone();
        let error = failed.into_error("users", "alice");
        assert_eq!(error.kind(), ErrorKind::BadInput);
        assert_eq!(error.to_string(), too_long().to_string());
        drop(kept);
    }

    #[test]
    fn a_refusal_is_a_command_error_naming_the_aggregate() {
        let error = CommandError::new("no").into_error("users", "alice");
        assert_eq!(error.kind(), ErrorKind::Refused);
        assert_eq!(error.to_string(), "command on users/alice refused: no");
    }
}
