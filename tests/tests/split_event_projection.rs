//! A stored event that an upcaster splits is projected all or none: when one of its parts fails
//! under `continue_on_error`, the writes of the parts before it are rolled back with it (one
//! savepoint for the stored event, not one per part), and the events after it are projected.
//! The rollback is the engine's (`handler/dispatch.rs`), the same on every store: the memory
//! store's transaction keeps writes as effects that run at commit and that a savepoint drops.

use std::sync::{Arc, Mutex};

use evtstore::prelude::*;
use evtstore::{HandlerOptions, MemoryStore, MemoryTransaction, Upcaster};
use evtstore_tests::cases::append_raw;
use serde::{Deserialize, Serialize};

/// Schema 2 of the `pairs` stream; schema 1 stored `{"type":"pair","left":..,"right":..}`,
/// now split into a `left` and a `right` event.
#[derive(Aggregate, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[aggregate(stream = "pairs", state = Pairs, schema = 2, upcasters = PAIR_UPCASTERS)]
#[serde(tag = "type", rename_all = "camelCase")]
enum PairEvent {
    Left { value: String },
    Right { value: String },
}

const PAIR_UPCASTERS: &[Upcaster] = &[Upcaster::with("pair", 1, |event, _| {
    let part = |side: &str| {
        let mut part = evtstore::JsonObject::new();
        part.insert("type".into(), side.into());
        part.insert("value".into(), event.get(side).cloned().unwrap_or_default());
        part
    };
    Ok(vec![part("left"), part("right")])
})];

#[derive(Clone, Debug, Default)]
struct Pairs;

impl PairEventFold for Pairs {
    fn left(&mut self, _: &String) {}
    fn right(&mut self, _: &String) {}
}

/// Writes every value it projects, at commit; refuses a right value of `bad`.
#[derive(Debug, Default)]
struct Written(Arc<Mutex<Vec<String>>>);

impl Written {
    fn write(&self, transaction: &mut MemoryTransaction, value: &str) {
        let (written, value) = (Arc::clone(&self.0), value.to_owned());
        transaction.on_commit(move || written.lock().unwrap().push(value));
    }
}

impl PairEventProjection<MemoryTransaction> for Written {
    async fn left(
        &self,
        transaction: &mut MemoryTransaction,
        _: &str,
        value: &String,
        _: &EventMeta,
    ) -> HandlerResult {
        self.write(transaction, value);
        Ok(())
    }

    async fn right(
        &self,
        transaction: &mut MemoryTransaction,
        _: &str,
        value: &String,
        _: &EventMeta,
    ) -> HandlerResult {
        if value == "bad" {
            return Err("a bad right value".into());
        }
        self.write(transaction, value);
        Ok(())
    }
}

#[tokio::test]
async fn a_split_event_is_projected_all_or_none() {
    let store = MemoryStore::new();
    for (id, json) in [
        ("a", r#"{"type":"pair","left":"a-left","right":"a-right"}"#),
        ("b", r#"{"type":"pair","left":"b-left","right":"bad"}"#),
        ("c", r#"{"type":"pair","left":"c-left","right":"c-right"}"#),
    ] {
        append_raw(&store, "pairs", id, 1, json).await.unwrap();
    }
    let errors = Arc::new(Mutex::new(Vec::new()));
    let reported = Arc::clone(&errors);
    let handler = Domain::new(store)
        .handler("pairs-table", Written::default())
        .project::<PairEvent>()
        .options(HandlerOptions {
            continue_on_error: true,
            ..HandlerOptions::default()
        })
        .on_error(move |error| reported.lock().unwrap().push(error.to_string()))
        .build();
    handler.run_once().await.unwrap();
    let written = handler.model().0.lock().unwrap().clone();
    assert_eq!(written, ["a-left", "a-right", "c-left", "c-right"]);
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("pairs/b"), "{errors:?}");
}
