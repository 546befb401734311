//! What a store keeps of an event, and what a handler is told about it.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::page::EventRow;

/// Where an event sits in the global order that handlers follow, and where a bookmark points.
///
/// Handlers read events in ascending cursor order. `position` is the event's global position
/// (one sequence across all streams, from 1). `commit` orders transactions on stores whose
/// positions can become visible out of order: PostgreSQL fills it with the writing transaction's
/// id so that a reader never passes a position a slower transaction has yet to commit. Stores
/// that hand out positions in commit order (memory, SQLite, MySQL) leave it at 0, so the order
/// is plain position order there.
///
/// The derived ordering compares `commit` first, then `position`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Cursor {
    /// The commit order key; 0 on stores that commit in position order.
    pub commit: i64,
    /// The global position of the event.
    pub position: i64,
}

impl Cursor {
    /// The cursor before every event: a new bookmark starts here.
    pub const START: Cursor = Cursor {
        commit: 0,
        position: 0,
    };

    /// A cursor at `position` on a store that commits in position order.
    #[must_use]
    pub const fn at(position: i64) -> Self {
        Cursor {
            commit: 0,
            position,
        }
    }
}

/// When an event was appended: milliseconds since the Unix epoch, as the TypeScript evtstore
/// stores it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time, truncated to milliseconds.
    #[must_use]
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        let millis = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Timestamp(millis)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(timestamp: Timestamp) -> Self {
        let magnitude = Duration::from_millis(timestamp.0.unsigned_abs());
        if timestamp.0 >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }
}

/// What the caller of a command says about who and what caused it; stored with every event the
/// command appends and handed to event handlers in [`EventMeta`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Groups every event that stems from one original request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The message (command or event) that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    /// Who acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The command's own id, making it idempotent: executing a command with an id that events
    /// of the same aggregate already carry appends nothing and returns the aggregate as that
    /// first execution left it ([`Commands::execute_with`](crate::Commands::execute_with)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// Anything else the application wants stored with the events, as JSON values; stored
    /// beside the fields above (`{"user":"alice","tenant":"acme"}`).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Metadata {
    /// Whether nothing is set; such metadata is not stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.correlation_id.is_none()
            && self.causation_id.is_none()
            && self.user.is_none()
            && self.command_id.is_none()
            && self.extra.is_empty()
    }

    /// The metadata of a command issued because of `event` (by a handler, a process manager):
    /// the event's correlation id travels on (the event's own id when it has none), the event
    /// is the cause (its id is `stream/aggregate_id/version`), and the acting user stays.
    #[must_use]
    pub fn caused_by(event: &EventMeta) -> Metadata {
        let event_id = format!("{}/{}/{}", event.stream, event.aggregate_id, event.version);
        Metadata {
            correlation_id: Some(
                event
                    .metadata
                    .correlation_id
                    .clone()
                    .unwrap_or_else(|| event_id.clone()),
            ),
            causation_id: Some(event_id),
            user: event.metadata.user.clone(),
            command_id: None,
            extra: BTreeMap::new(),
        }
    }
}

/// Everything a handler or a fold may want to know about an event besides its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMeta {
    /// The stream the event belongs to.
    pub stream: &'static str,
    /// The aggregate the event belongs to.
    pub aggregate_id: String,
    /// The aggregate's version after this event (1 for its first event).
    pub version: u64,
    /// Where the event sits in the global order.
    pub cursor: Cursor,
    /// When it was appended.
    pub timestamp: Timestamp,
    /// What the command's caller said about it.
    pub metadata: Metadata,
}

impl EventMeta {
    /// The event's global position.
    #[must_use]
    pub fn position(&self) -> i64 {
        self.cursor.position
    }
}

/// An event as a store returns it: the payload is still the stored JSON text, decoded only by
/// whoever knows its Rust type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Where the event sits in the global order.
    pub cursor: Cursor,
    /// The stream it belongs to.
    pub stream: String,
    /// The aggregate it belongs to.
    pub aggregate_id: String,
    /// The aggregate's version after it.
    pub version: u64,
    /// When it was appended.
    pub timestamp: Timestamp,
    /// The event as JSON text with a `type` field.
    pub event: String,
    /// The stored metadata as JSON text, if any was given.
    pub metadata: Option<String>,
}

/// One row of [`Store::read`](crate::Store::read): an event, or a row of the events table that
/// cannot be one.
///
/// A database shared with other programs can hold rows no evtstore writer makes (a NULL event,
/// a version of 0). Such a row must not hide the events around it, so a read returns it in its
/// place rather than failing the whole page; a handler reports it like any failing event.
pub type ReadRow = Result<RecordedEvent, UnreadableRow>;

/// A row of the events table that cannot be read as an event. It keeps its place in the order
/// of the streams, so a handler can report it and, under `continue_on_error`, skip it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the row at position {} ({}/{}) cannot be read: {reason}", cursor.position,
        stream.as_deref().unwrap_or("?"), aggregate_id.as_deref().unwrap_or("?"))]
pub struct UnreadableRow {
    /// Where the row stands in the order of the streams.
    pub cursor: Cursor,
    /// The row's stream, when it could be read.
    pub stream: Option<String>,
    /// The row's aggregate, when it could be read.
    pub aggregate_id: Option<String>,
    /// What is wrong with it.
    pub reason: String,
}

/// The cursor of a row of a read, readable or not.
#[must_use]
pub fn row_cursor(row: &ReadRow) -> Cursor {
    match row {
        Ok(event) => event.cursor,
        Err(unreadable) => unreadable.cursor,
    }
}

/// An event to append: its place in its aggregate and its encoded payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// The aggregate's version after this event.
    pub version: u64,
    /// The stored type name of the event (the `type` field of `event`).
    pub event_type: &'static str,
    /// The event as JSON text with a `type` field.
    pub event: String,
}

/// A batch of events of one aggregate to append together, all or none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Append<'a> {
    /// The stream of the aggregate.
    pub stream: &'static str,
    /// The aggregate the events belong to.
    pub aggregate_id: &'a str,
    /// The events, with consecutive versions.
    pub events: &'a [NewEvent],
    /// When they are appended.
    pub timestamp: Timestamp,
    /// The metadata stored with each of them, as JSON text, if any.
    pub metadata: Option<&'a str>,
}

/// The metadata of a recorded event, consuming it to avoid copying its strings. Fails when the
/// stored metadata is not valid metadata JSON.
pub(crate) fn event_meta(
    stream: &'static str,
    recorded: RecordedEvent,
) -> Result<EventMeta, DecodeError> {
    let metadata = stored_metadata(&recorded.as_row())?;
    Ok(EventMeta {
        stream,
        aggregate_id: recorded.aggregate_id,
        version: recorded.version,
        cursor: recorded.cursor,
        timestamp: recorded.timestamp,
        metadata,
    })
}

/// The metadata of an event row where it lies, copying only its aggregate id. Fails when the
/// stored metadata is not valid metadata JSON.
pub(crate) fn event_meta_of_row(
    stream: &'static str,
    row: &EventRow<'_>,
) -> Result<EventMeta, DecodeError> {
    Ok(EventMeta {
        stream,
        aggregate_id: row.aggregate_id.to_owned(),
        version: row.version,
        cursor: row.cursor,
        timestamp: row.timestamp,
        metadata: stored_metadata(row)?,
    })
}

fn stored_metadata(row: &EventRow<'_>) -> Result<Metadata, DecodeError> {
    let Some(json) = row.metadata else {
        return Ok(Metadata::default());
    };
    serde_json::from_str(json).map_err(|source| DecodeError::Malformed {
        stream: row.stream.to_owned(),
        aggregate_id: row.aggregate_id.to_owned(),
        position: row.cursor.position,
        event_type: "metadata".to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_meta(metadata: Metadata) -> EventMeta {
        EventMeta {
            stream: "users",
            aggregate_id: "alice".into(),
            version: 3,
            cursor: Cursor::at(9),
            timestamp: Timestamp(0),
            metadata,
        }
    }

    #[test]
    fn a_caused_command_carries_the_correlation_on_and_names_the_event() {
        let from_request = Metadata {
            correlation_id: Some("request-7".into()),
            user: Some("admin".into()),
            ..Metadata::default()
        };
        let caused = Metadata::caused_by(&event_meta(from_request));
        assert_eq!(caused.correlation_id.as_deref(), Some("request-7"));
        assert_eq!(caused.causation_id.as_deref(), Some("users/alice/3"));
        assert_eq!(caused.user.as_deref(), Some("admin"));
        // Without a correlation id the event starts one.
        let caused = Metadata::caused_by(&event_meta(Metadata::default()));
        assert_eq!(caused.correlation_id.as_deref(), Some("users/alice/3"));
    }

    #[test]
    fn free_form_values_sit_beside_the_known_fields() {
        let json = r#"{"user":"alice","tenant":"acme"}"#;
        let metadata: Metadata = serde_json::from_str(json).unwrap();
        assert_eq!(metadata.user.as_deref(), Some("alice"));
        assert_eq!(metadata.extra["tenant"], "acme");
        assert_eq!(serde_json::to_string(&metadata).unwrap(), json);
    }
}
