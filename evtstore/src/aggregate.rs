//! Aggregates: the events of one stream folded into a state.

use std::ops::{Deref, DerefMut};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::DecodeError;
use crate::event::RecordedEvent;
use crate::upcast::{Upcaster, decode_upcast};

/// The event set of an aggregate: implemented on the event enum of one stream.
///
/// It names the stream, the state the events fold into, and each event's stored type name.
/// Folding applies an event that has already happened: it holds no business logic and cannot
/// fail. Deciding whether an event may happen is the job of a command.
///
/// `#[derive(Aggregate)]` writes this impl; by hand it reads:
///
/// ```
/// use evtstore::{Aggregate, Snapshots};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// #[serde(tag = "type", rename_all = "camelCase")]
/// pub enum UserEvent {
///     Created { name: String },
///     Disabled,
/// }
///
/// #[derive(Clone, Debug, Default, Serialize, Deserialize)]
/// pub struct User {
///     pub name: String,
///     pub enabled: bool,
/// }
///
/// impl Aggregate for UserEvent {
///     type State = User;
///     const STREAM: &'static str = "users";
///     const EVENT_TYPES: &'static [&'static str] = &["created", "disabled"];
///     const SNAPSHOTS: Option<Snapshots<User>> = Some(Snapshots::json("v1"));
///
///     fn event_type(&self) -> &'static str {
///         match self {
///             UserEvent::Created { .. } => "created",
///             UserEvent::Disabled => "disabled",
///         }
///     }
///
///     fn fold(state: &mut User, event: &Self) {
///         match event {
///             UserEvent::Created { name } => {
///                 state.name = name.clone();
///                 state.enabled = true;
///             }
///             UserEvent::Disabled => state.enabled = false,
///         }
///     }
/// }
///
/// let mut user = User::default();
/// UserEvent::fold(&mut user, &UserEvent::Created { name: "Alice".into() });
/// assert!(user.enabled);
/// assert_eq!(UserEvent::Disabled.event_type(), "disabled");
/// ```
pub trait Aggregate: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The state the events fold into; `Default` is the state of an aggregate without events.
    type State: Default + Clone + Send + Sync + 'static;

    /// The name of the stream that holds these events.
    const STREAM: &'static str;

    /// The stored type name of every event, in declaration order.
    const EVENT_TYPES: &'static [&'static str];

    /// Whether the folded state is kept as a snapshot, and how. `None` (the default) folds every
    /// event on each load.
    const SNAPSHOTS: Option<Snapshots<Self::State>> = None;

    /// The schema version of the enum's shape: 1 (the default) until an event's stored shape
    /// changes. Events appended under a schema above 1 carry it in a `"$schema"` field of their
    /// JSON, so that later code knows which upcasters they need (see [`crate::upcast`]); it is
    /// taken out before the event is decoded.
    const SCHEMA: u32 = 1;

    /// The upcasters that read events stored under an older schema, applied in order from the
    /// stored event's schema up to [`SCHEMA`](Self::SCHEMA) before decoding (see
    /// [`crate::upcast`]). Empty by default.
    const UPCASTERS: &'static [Upcaster] = &[];

    /// The stored type name of this event: the `type` field of its JSON.
    fn event_type(&self) -> &'static str;

    /// Applies one event to the state.
    fn fold(state: &mut Self::State, event: &Self);

    /// Decodes a stored event of this stream, upcast to the current schema, with an error that
    /// names the event on failure.
    ///
    /// # Errors
    /// [`DecodeError::UnknownType`] when the stored type is not one of
    /// [`EVENT_TYPES`](Self::EVENT_TYPES), [`DecodeError::Malformed`] when the JSON does not
    /// fit the type, when an upcaster fails, or when the upcasters turn the stored event into
    /// more or fewer than one event (read those with [`decode_all`](Self::decode_all)).
    fn decode(recorded: &RecordedEvent) -> Result<Self, DecodeError> {
        let at = EventAt::of(recorded);
        let mut decoded = decode_upcast::<Self>(&recorded.event, at)?;
        match (decoded.next(), decoded.next()) {
            (Some(event), None) => Ok(event),
            (first, _) => Err(DecodeError::Malformed {
                stream: recorded.stream.clone(),
                aggregate_id: recorded.aggregate_id.clone(),
                position: recorded.cursor.position,
                event_type: first.map_or("?", |event| event.event_type()).to_owned(),
                source: serde::de::Error::custom(
                    "the upcasters made more or fewer than one event of it: read it with \
                     `decode_all`",
                ),
            }),
        }
    }

    /// Decodes a stored event of this stream into the events of the current schema: one,
    /// unless an upcaster split it into several or dropped it.
    ///
    /// # Errors
    /// As [`decode`](Self::decode), but for the number of events.
    fn decode_all(recorded: &RecordedEvent) -> Result<Vec<Self>, DecodeError> {
        Ok(decode_upcast::<Self>(&recorded.event, EventAt::of(recorded))?.collect())
    }
}

/// Where a stored event comes from, for error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventAt<'a> {
    pub(crate) stream: &'a str,
    pub(crate) aggregate_id: &'a str,
    pub(crate) position: i64,
}

impl<'a> EventAt<'a> {
    pub(crate) fn of(recorded: &'a RecordedEvent) -> Self {
        EventAt {
            stream: &recorded.stream,
            aggregate_id: &recorded.aggregate_id,
            position: recorded.cursor.position,
        }
    }
}

/// Decodes a stored event's JSON, with an error that names the event on failure.
pub(crate) fn decode_at<A: Aggregate>(json: &str, at: EventAt<'_>) -> Result<A, DecodeError> {
    serde_json::from_str(json).map_err(|source| decode_error::<A>(json, at, source))
}

/// Builds the most precise error for an event that failed to decode. Only runs on the error
/// path, so the happy path parses the JSON once.
fn decode_error<A: Aggregate>(
    json: &str,
    at: EventAt<'_>,
    source: serde_json::Error,
) -> DecodeError {
    #[derive(serde::Deserialize)]
    struct TypeOnly {
        #[serde(rename = "type")]
        event_type: String,
    }
    match serde_json::from_str::<TypeOnly>(json) {
        Ok(TypeOnly { event_type }) if !A::EVENT_TYPES.contains(&event_type.as_str()) => {
            DecodeError::UnknownType {
                stream: at.stream.to_owned(),
                aggregate_id: at.aggregate_id.to_owned(),
                position: at.position,
                event_type,
                known: A::EVENT_TYPES.join(", "),
            }
        }
        found => DecodeError::Malformed {
            stream: at.stream.to_owned(),
            aggregate_id: at.aggregate_id.to_owned(),
            position: at.position,
            event_type: found.map_or_else(|_| "?".to_owned(), |t| t.event_type),
            source,
        },
    }
}

/// How an aggregate's state is kept as a snapshot: a fold version tag and a codec.
///
/// Bump the tag whenever the fold changes meaning: a snapshot whose tag differs from the code's
/// is ignored, the state is rebuilt from all events, and the next command stores it under the
/// new tag.
#[derive(Debug)]
pub struct Snapshots<S> {
    /// The fold version the stored state was produced by.
    pub tag: &'static str,
    /// Encodes the state as JSON text.
    pub encode: fn(&S) -> Result<String, serde_json::Error>,
    /// Decodes the state from JSON text.
    pub decode: fn(&str) -> Result<S, serde_json::Error>,
}

impl<S> Clone for Snapshots<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Snapshots<S> {}

impl<S: Serialize + DeserializeOwned> Snapshots<S> {
    /// Snapshots stored as the state's serde JSON, tagged with `tag`.
    #[must_use]
    pub const fn json(tag: &'static str) -> Self {
        Snapshots {
            tag,
            encode: encode_json::<S>,
            decode: decode_json::<S>,
        }
    }
}

fn encode_json<S: Serialize>(state: &S) -> Result<String, serde_json::Error> {
    serde_json::to_string(state)
}

fn decode_json<S: DeserializeOwned>(json: &str) -> Result<S, serde_json::Error> {
    serde_json::from_str(json)
}

/// A stored snapshot: the state after `version` events, produced by the fold tagged `tag`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The number of events folded into `state`.
    pub version: u64,
    /// The fold version tag.
    pub tag: String,
    /// The encoded state.
    pub state: String,
}

/// A loaded aggregate: its id, its version (the number of its events; 0 when it does not
/// exist yet) and its folded state. It dereferences to the state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Agg<S> {
    /// The aggregate's id within its stream.
    pub aggregate_id: String,
    /// How many events the aggregate has; 0 means it does not exist.
    pub version: u64,
    /// The folded state.
    pub state: S,
}

impl<S: Default> Agg<S> {
    /// An aggregate without events: version 0 and the default state.
    pub fn new(aggregate_id: impl Into<String>) -> Self {
        Agg {
            aggregate_id: aggregate_id.into(),
            version: 0,
            state: S::default(),
        }
    }
}

impl<S> Agg<S> {
    /// Whether the aggregate has at least one event.
    #[must_use]
    pub fn exists(&self) -> bool {
        self.version > 0
    }
}

impl<S> Deref for Agg<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S> DerefMut for Agg<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.state
    }
}
