//! The domain every scenario uses: a counter, the same events in a stream with snapshots, the
//! commands that append n events, and a read model that only counts.

use std::sync::atomic::{AtomicUsize, Ordering};

use evtstore::{
    Agg, Aggregate, CommandResult, CommandSet, EventMeta, HandledBy, HandlerResult, Snapshots,
};
use serde::{Deserialize, Serialize};

/// A counter: the aggregate every scenario uses.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum Counted {
    Added { amount: i64, note: String },
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Counter {
    total: i64,
    pub(crate) count: u64,
}

pub(crate) fn fold_counter(state: &mut Counter, event: &Counted) {
    let Counted::Added { amount, .. } = event;
    state.total += amount;
    state.count += 1;
}

impl Aggregate for Counted {
    type State = Counter;
    const STREAM: &'static str = "counters";
    const EVENT_TYPES: &'static [&'static str] = &["added"];

    fn event_type(&self) -> &'static str {
        "added"
    }

    fn fold(state: &mut Counter, event: &Self) {
        fold_counter(state, event);
    }
}

/// The same events in another stream, with snapshots.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct SnapCounted(Counted);

impl Aggregate for SnapCounted {
    type State = Counter;
    const STREAM: &'static str = "snap_counters";
    const EVENT_TYPES: &'static [&'static str] = &["added"];
    const SNAPSHOTS: Option<Snapshots<Counter>> = Some(Snapshots::json("v1"));

    fn event_type(&self) -> &'static str {
        "added"
    }

    fn fold(state: &mut Counter, event: &Self) {
        fold_counter(state, &event.0);
    }
}

pub(crate) fn added(n: usize) -> Counted {
    Counted::Added {
        amount: 1,
        note: format!("event number {n}"),
    }
}

/// The JSON of `added(n)`, as a baseline stores it.
pub(crate) fn added_json(n: usize) -> String {
    serde_json::to_string(&added(n)).expect("encode")
}

/// A stored event's JSON, decoded.
pub(crate) fn decode(json: &str) -> Counted {
    serde_json::from_str(json).expect("a stored event does not decode")
}

/// What a baseline's catch-up counts of one event.
pub(crate) fn amount(json: &str) -> usize {
    let Counted::Added { amount, .. } = decode(json);
    usize::try_from(amount).unwrap_or(0)
}

/// `Add(n)` appends n events.
#[derive(Debug)]
pub(crate) struct CounterCommands;

impl CommandSet for CounterCommands {
    type Aggregate = Counted;
    type Command = usize;

    async fn decide(&self, _: &Agg<Counter>, count: &usize) -> CommandResult<Counted> {
        Ok((0..*count).map(added).collect())
    }
}

#[derive(Debug)]
pub(crate) struct SnapCommands;

impl CommandSet for SnapCommands {
    type Aggregate = SnapCounted;
    type Command = usize;

    async fn decide(&self, _: &Agg<Counter>, count: &usize) -> CommandResult<SnapCounted> {
        Ok((0..*count).map(|n| SnapCounted(added(n))).collect())
    }
}

/// A read model that only counts.
#[derive(Debug, Default)]
pub(crate) struct Count(AtomicUsize);

impl HandledBy<Count> for Counted {
    async fn dispatch(model: &Count, _: &str, event: &Self, _: &EventMeta) -> HandlerResult {
        let Counted::Added { amount, .. } = event;
        model
            .0
            .fetch_add(usize::try_from(*amount)?, Ordering::Relaxed);
        Ok(())
    }
}
