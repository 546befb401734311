//! Upcasting: reading events stored under an older shape of their enum.
//!
//! Stored events are never rewritten. An event enum whose shape changed declares its schema
//! version ([`Aggregate::SCHEMA`], `#[aggregate(schema = 2)]`) and the upcasters that turn
//! each older stored event into the next version's ([`Aggregate::UPCASTERS`]). Events appended
//! under a schema above 1 carry it in a `"$schema"` field of their JSON; an event without it
//! is of schema 1, which is what every event written before the first change, and every event
//! of the TypeScript evtstore, is. Reading applies the upcasters from the event's schema up to
//! the code's, before decoding: in folds, loads, history and handlers alike.
//!
//! ```
//! use evtstore::prelude::*;
//! use evtstore::Upcaster;
//! use serde::{Deserialize, Serialize};
//!
//! /// Version 1 stored `{"type":"registered","name":".."}`; version 2 renamed the type to
//! /// `created` and the field to `fullName`, and added `verified`, which old events did not
//! /// record: they were all verified by hand.
//! #[derive(Aggregate, Clone, Debug, PartialEq, Serialize, Deserialize)]
//! #[aggregate(stream = "users", state = User, schema = 2, upcasters = USER_UPCASTERS)]
//! #[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
//! pub enum UserEvent {
//!     Created { full_name: String, verified: bool },
//! }
//!
//! const USER_UPCASTERS: &[Upcaster] = &[
//!     Upcaster::rename_type("registered", 1, "created"),
//!     Upcaster::rename_field("created", 1, "name", "fullName"),
//!     Upcaster::with("created", 1, |mut event, _| {
//!         event.insert("verified".into(), true.into());
//!         Ok(vec![event])
//!     }),
//! ];
//!
//! #[derive(Clone, Debug, Default)]
//! pub struct User { pub name: String }
//!
//! impl UserEventFold for User {
//!     fn created(&mut self, full_name: &String, _verified: &bool) {
//!         self.name.clone_from(full_name);
//!     }
//! }
//!
//! // A row written by version 1, read by version 2:
//! let old = evtstore::RecordedEvent {
//!     cursor: evtstore::Cursor::at(1),
//!     stream: "users".into(),
//!     aggregate_id: "alice".into(),
//!     version: 1,
//!     timestamp: evtstore::Timestamp::now(),
//!     event: r#"{"type":"registered","name":"Alice"}"#.into(),
//!     metadata: None,
//! };
//! let event = UserEvent::decode(&old)?;
//! assert_eq!(event, UserEvent::Created { full_name: "Alice".into(), verified: true });
//! # Ok::<_, evtstore::DecodeError>(())
//! ```
//!
//! Upcasters of one version apply in the order they are listed, each to the events the one
//! before it produced: above, the type is renamed first, so the next two name `created`.

use serde::de::Error as _;
use serde_json::Value;

use crate::aggregate::{Aggregate, EventAt, decode_at};
use crate::error::DecodeError;

/// An event as a JSON object, with its `type` field.
pub type JsonObject = serde_json::Map<String, Value>;

/// What an upcaster knows about the stored event besides its JSON, for computed defaults.
#[derive(Clone, Copy, Debug)]
pub struct UpcastContext<'a> {
    /// The aggregate the event belongs to.
    pub aggregate_id: &'a str,
    /// The event's global position.
    pub position: i64,
}

/// A function upcaster: the event of the version it reads becomes the events of the next
/// version (usually one; several to split it, none to drop it). An `Err` is reported as an
/// event that does not decode.
pub type UpcastFn = fn(JsonObject, &UpcastContext<'_>) -> Result<Vec<JsonObject>, String>;

/// What an [`Upcaster`] does.
#[derive(Clone, Copy, Debug)]
pub enum Upcast {
    /// Renames the event's type.
    RenameType(&'static str),
    /// Renames one field; an event without it is left as it is.
    RenameField {
        /// The old name.
        from: &'static str,
        /// The new name.
        to: &'static str,
    },
    /// Anything else: a function of the event.
    With(UpcastFn),
}

/// Turns the stored events of one type and schema version into events of the next version.
#[derive(Clone, Copy, Debug)]
pub struct Upcaster {
    /// The stored type it reads, as it is named at `from_schema`.
    pub event_type: &'static str,
    /// The schema version it reads; its output is of version `from_schema + 1`.
    pub from_schema: u32,
    /// What it does.
    pub upcast: Upcast,
}

impl Upcaster {
    /// Renames the type `event_type` of schema `from_schema` to `to`.
    #[must_use]
    pub const fn rename_type(event_type: &'static str, from_schema: u32, to: &'static str) -> Self {
        Upcaster {
            event_type,
            from_schema,
            upcast: Upcast::RenameType(to),
        }
    }

    /// Renames the field `from` of `event_type` events of schema `from_schema` to `to`.
    #[must_use]
    pub const fn rename_field(
        event_type: &'static str,
        from_schema: u32,
        from: &'static str,
        to: &'static str,
    ) -> Self {
        Upcaster {
            event_type,
            from_schema,
            upcast: Upcast::RenameField { from, to },
        }
    }

    /// Upcasts `event_type` events of schema `from_schema` with a function: to split one
    /// event into several, add a field computed from the others, or anything else.
    #[must_use]
    pub const fn with(event_type: &'static str, from_schema: u32, upcast: UpcastFn) -> Self {
        Upcaster {
            event_type,
            from_schema,
            upcast: Upcast::With(upcast),
        }
    }

    fn apply(
        &self,
        mut event: JsonObject,
        context: &UpcastContext<'_>,
    ) -> Result<Vec<JsonObject>, String> {
        match self.upcast {
            Upcast::RenameType(to) => {
                event.insert(TYPE.to_owned(), Value::String(to.to_owned()));
                Ok(vec![event])
            }
            Upcast::RenameField { from, to } => {
                if let Some(value) = event.remove(from) {
                    event.insert(to.to_owned(), value);
                }
                Ok(vec![event])
            }
            Upcast::With(upcast) => upcast(event, context),
        }
    }
}

/// The field that holds an event's type.
const TYPE: &str = "type";

/// The field that holds the schema version of an event appended under a schema above 1.
const SCHEMA_FIELD: &str = "$schema";

/// How [`encode`] appends the schema field: after the event's own fields, last.
const SCHEMA_MARKER: &str = ",\"$schema\":";

/// The events one stored event decodes to: one, unless an upcaster split it.
#[derive(Debug)]
pub(crate) enum Decoded<A> {
    One(Option<A>),
    Many(std::vec::IntoIter<A>),
}

impl<A> Iterator for Decoded<A> {
    type Item = A;

    fn next(&mut self) -> Option<A> {
        match self {
            Decoded::One(event) => event.take(),
            Decoded::Many(events) => events.next(),
        }
    }
}

/// The JSON text an event is stored as: its own JSON, with the schema version of its enum
/// when that is above 1 (so that later code knows which upcasters it needs).
pub(crate) fn encode<A: Aggregate>(event: &A) -> Result<String, serde_json::Error> {
    serde_json::to_string(event).map(|json| with_schema(json, A::SCHEMA))
}

/// The JSON text of an event appended by code of schema `schema`: the event's own JSON, with
/// the schema version added when it is above 1 (an event without it is of schema 1).
fn with_schema(mut json: String, schema: u32) -> String {
    if schema <= 1 || !json.ends_with('}') {
        return json;
    }
    json.pop();
    let marker = if json.ends_with('{') {
        &SCHEMA_MARKER[1..]
    } else {
        SCHEMA_MARKER
    };
    json.push_str(marker);
    json.push_str(&schema.to_string());
    json.push('}');
    json
}

/// Decodes a stored event of `A`'s stream, upcast from the schema it was stored under to
/// `A::SCHEMA`. Without upcasters, or for an event of the current schema, this is one
/// `serde_json` decode of the text, as without upcasting.
pub(crate) fn decode_upcast<A: Aggregate>(
    json: &str,
    at: EventAt<'_>,
) -> Result<Decoded<A>, DecodeError> {
    if A::SCHEMA <= 1 {
        // Nothing this code wrote carries a schema, and no upcaster can apply (each reads a
        // schema below the enum's).
        return decode_at(json, at).map(|event| Decoded::One(Some(event)));
    }
    // An event this library appended at a schema at or above the code's (newer: written by a
    // later release during a rolling deploy) ends with its schema field: decoded without it,
    // so that serde sees exactly the event's own fields.
    if let Some((fields, schema)) = trailing_schema(json)
        && schema >= A::SCHEMA
    {
        let mut own = String::with_capacity(fields.len() + 1);
        own.push_str(fields);
        own.push('}');
        return decode_at(&own, at).map(|event| Decoded::One(Some(event)));
    }
    let Ok(Value::Object(mut event)) = serde_json::from_str::<Value>(json) else {
        return decode_at(json, at).map(|event| Decoded::One(Some(event)));
    };
    let stored = match event.remove(SCHEMA_FIELD) {
        None => 1,
        Some(schema) => schema
            .as_u64()
            .and_then(|schema| u32::try_from(schema).ok())
            .ok_or_else(|| {
                let event_type = event.get(TYPE).and_then(Value::as_str).unwrap_or("?");
                malformed(event_type, at, "its `$schema` is not a version number")
            })?,
    };
    if stored >= A::SCHEMA {
        return decode_value(event, at).map(|event| Decoded::One(Some(event)));
    }
    let context = UpcastContext {
        aggregate_id: at.aggregate_id,
        position: at.position,
    };
    let mut events = vec![event];
    for schema in stored..A::SCHEMA {
        for upcaster in A::UPCASTERS.iter().filter(|up| up.from_schema == schema) {
            let mut next = Vec::with_capacity(events.len());
            for event in events {
                if event.get(TYPE).and_then(Value::as_str) != Some(upcaster.event_type) {
                    next.push(event);
                    continue;
                }
                let upcast = upcaster.apply(event, &context).map_err(|reason| {
                    let reason = format!(
                        "the upcaster of `{}` from schema {schema} failed: {reason}",
                        upcaster.event_type
                    );
                    malformed(upcaster.event_type, at, &reason)
                })?;
                next.extend(upcast);
            }
            events = next;
        }
    }
    let decoded = events
        .into_iter()
        .map(|event| decode_value(event, at))
        .collect::<Result<Vec<A>, _>>()?;
    Ok(match <[A; 1]>::try_from(decoded) {
        Ok([one]) => Decoded::One(Some(one)),
        Err(decoded) => Decoded::Many(decoded.into_iter()),
    })
}

/// The event's JSON before the schema field that [`encode`] appends (`,"$schema":N}`), and N;
/// `None` when the text does not end so.
fn trailing_schema(json: &str) -> Option<(&str, u32)> {
    let body = json.strip_suffix('}')?;
    let start = body.rfind(SCHEMA_MARKER)?;
    let schema = body[start + SCHEMA_MARKER.len()..].parse().ok()?;
    Some((&json[..start], schema))
}

/// Decodes an event from its (upcast) JSON object, through its text, so that a failure is
/// reported as for a stored event, naming its type.
fn decode_value<A: Aggregate>(event: JsonObject, at: EventAt<'_>) -> Result<A, DecodeError> {
    decode_at(&Value::Object(event).to_string(), at)
}

/// A [`DecodeError::Malformed`] for a reason of upcasting.
fn malformed(event_type: &str, at: EventAt<'_>, reason: &str) -> DecodeError {
    DecodeError::Malformed {
        stream: at.stream.to_owned(),
        aggregate_id: at.aggregate_id.to_owned(),
        position: at.position,
        event_type: event_type.to_owned(),
        source: serde_json::Error::custom(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Cursor, RecordedEvent, Timestamp};

    /// `deny_unknown_fields`: the schema field must be out of the way.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
    enum Note {
        Written { text: String },
    }

    impl Aggregate for Note {
        type State = ();
        const STREAM: &'static str = "notes";
        const EVENT_TYPES: &'static [&'static str] = &["written"];
        const SCHEMA: u32 = 2;
        const UPCASTERS: &'static [Upcaster] = &[Upcaster::with("written", 1, |event, _| {
            if event.contains_key("broken") {
                return Err("a broken note".into());
            }
            Ok(vec![event.clone(), event])
        })];

        fn event_type(&self) -> &'static str {
            "written"
        }

        fn fold((): &mut (), _: &Self) {}
    }

    fn stored(json: &str) -> RecordedEvent {
        RecordedEvent {
            cursor: Cursor::at(7),
            stream: "notes".into(),
            aggregate_id: "n".into(),
            version: 1,
            timestamp: Timestamp::now(),
            event: json.into(),
            metadata: None,
        }
    }

    #[test]
    fn a_split_event_reads_with_decode_all_not_decode() {
        let old = stored(r#"{"type":"written","text":"hi"}"#);
        let written = Note::Written { text: "hi".into() };
        assert_eq!(Note::decode_all(&old).unwrap(), [written.clone(), written]);
        let error = Note::decode(&old).unwrap_err().to_string();
        assert!(error.contains("decode_all"), "{error}");
    }

    #[test]
    fn current_events_are_not_upcast() {
        let current = stored(r#"{"type":"written","text":"hi","$schema":2}"#);
        assert_eq!(
            Note::decode(&current).unwrap(),
            Note::Written { text: "hi".into() }
        );
    }

    #[test]
    fn a_failing_upcaster_is_a_malformed_event_that_names_it() {
        let error = Note::decode(&stored(r#"{"type":"written","text":"","broken":1}"#))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("upcaster of `written` from schema 1"),
            "{error}"
        );
        assert!(error.contains("a broken note"), "{error}");
        let error = Note::decode(&stored(r#"{"type":"written","$schema":"x"}"#))
            .unwrap_err()
            .to_string();
        assert!(error.contains("$schema"), "{error}");
    }

    #[test]
    fn the_trailing_schema_is_found_and_cut_off() {
        let json = encode_note(r#"{"type":"written","text":"a,\"$schema\":1"}"#);
        assert_eq!(
            trailing_schema(&json),
            Some((r#"{"type":"written","text":"a,\"$schema\":1""#, 2))
        );
        assert_eq!(trailing_schema(r#"{"type":"written","text":"x"}"#), None);
        assert_eq!(trailing_schema(r#"{"$schema":2,"type":"written"}"#), None);
    }

    fn encode_note(json: &str) -> String {
        with_schema(json.to_owned(), 2)
    }

    #[test]
    fn schema_is_added_above_one_only() {
        assert_eq!(with_schema(r#"{"type":"a"}"#.into(), 1), r#"{"type":"a"}"#);
        assert_eq!(
            with_schema(r#"{"type":"a"}"#.into(), 3),
            r#"{"type":"a","$schema":3}"#
        );
        assert_eq!(with_schema("{}".into(), 2), r#"{"$schema":2}"#);
    }
}
