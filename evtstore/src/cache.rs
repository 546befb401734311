//! A bounded in-process cache of the last loaded state of each aggregate.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use crate::aggregate::Agg;

type Key = (&'static str, String);

/// Keeps the most recently loaded or written aggregates so that a command does not read the
/// aggregate's history before deciding.
///
/// A cached aggregate may be stale when another process appended to it. [`Domain::execute`]
/// keeps that safe with one rule:
/// - a decision that appends nothing (a refusal, or no event) is always taken on the current
///   state: taken on a cache entry, it is followed by a read of the events after the entry's
///   version, and taken again if there are any;
/// - a decision that appends is checked by the store's optimistic concurrency: appending at a
///   version that exists is refused, and the retry reloads from the store.
///
/// So the cache saves the full read of an aggregate's history; it never lets a command answer
/// from a past state. Eviction is first-in first-out, which is enough to bound memory.
///
/// [`Domain::execute`]: crate::Domain::execute
#[derive(Debug)]
pub(crate) struct AggregateCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    values: HashMap<Key, Box<dyn Any + Send + Sync>>,
    order: VecDeque<Key>,
}

impl AggregateCache {
    pub(crate) fn new(capacity: usize) -> Self {
        AggregateCache {
            capacity,
            entries: Mutex::new(Entries::default()),
        }
    }

    pub(crate) fn get<S: Clone + 'static>(&self, stream: &'static str, id: &str) -> Option<Agg<S>> {
        if self.capacity == 0 {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .values
            .get(&(stream, id.to_owned()))?
            .downcast_ref::<Agg<S>>()
            .cloned()
    }

    pub(crate) fn put<S: Clone + Send + Sync + 'static>(&self, stream: &'static str, agg: &Agg<S>) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (stream, agg.aggregate_id.clone());
        if entries
            .values
            .insert(key.clone(), Box::new(agg.clone()))
            .is_none()
        {
            entries.order.push_back(key);
            while entries.order.len() > self.capacity {
                if let Some(oldest) = entries.order.pop_front() {
                    entries.values.remove(&oldest);
                }
            }
        }
    }

    pub(crate) fn evict(&self, stream: &'static str, id: &str) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (stream, id.to_owned());
        if entries.values.remove(&key).is_some() {
            entries.order.retain(|queued| queued != &key);
        }
    }
}
