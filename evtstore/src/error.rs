//! The errors of evtstore: each says what happened and to which stream, aggregate or handler.

use std::borrow::Cow;
use std::fmt;

/// Any error a user's handler may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A command refused by the user's own rules ("user already exists").
///
/// Return it from a command to stop it without appending anything; the caller receives it inside
/// [`Error::Command`]. Commands are never retried after a refusal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// What the user is told.
    pub message: Cow<'static, str>,
    /// A stable machine-readable code, if the application uses them.
    pub code: Option<Cow<'static, str>>,
}

impl CommandError {
    /// A refusal with a message.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        CommandError {
            message: message.into(),
            code: None,
        }
    }

    /// Adds a machine-readable code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }
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
        stream: &'static str,
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
        stream: &'static str,
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
