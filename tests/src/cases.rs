//! The conformance cases, one async function per behaviour, each taking a fresh, empty store.

pub mod claims;
pub mod commands;
pub mod concurrency;
pub mod handlers;
pub mod health;
pub mod poison;
pub mod projections;
pub mod segments;
pub mod snapshots;
pub mod storage;
pub mod upcasting;

use evtstore::{Append, Error, NewEvent, Store, Timestamp};

/// Appends one raw event, bypassing the domain: the way to plant events the code would never
/// write (unknown types, malformed JSON) or to provoke conflicts.
pub async fn append_raw<S: Store>(
    store: &S,
    stream: &'static str,
    aggregate_id: &str,
    version: u64,
    json: &str,
) -> Result<(), Error> {
    append_raw_versions(store, stream, aggregate_id, version..=version, json).await
}

/// Appends the same raw event at each of `versions`, in one append.
pub async fn append_raw_versions<S: Store>(
    store: &S,
    stream: &'static str,
    aggregate_id: &str,
    versions: std::ops::RangeInclusive<u64>,
    json: &str,
) -> Result<(), Error> {
    let events: Vec<NewEvent> = versions
        .map(|version| NewEvent {
            version,
            event_type: "raw",
            event: json.to_owned(),
        })
        .collect();
    store
        .append(Append {
            stream,
            aggregate_id,
            events: &events,
            timestamp: Timestamp::now(),
            metadata: None,
        })
        .await
}
