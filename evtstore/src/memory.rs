//! A store that keeps everything in memory: for tests, examples and single-process tools.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::aggregate::Snapshot;
use crate::error::Error;
use crate::event::{Append, Cursor, ReadRow, RecordedEvent, UnreadableRow, row_cursor};
use crate::store::{HandlerLock, Store};

/// An in-memory [`Store`]. Clones share the same data; nothing survives the process.
///
/// ```
/// use evtstore::MemoryStore;
///
/// let store = MemoryStore::new();
/// let same_data = store.clone();
/// # drop(same_data);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// All rows in position order; position `p` is at index `p - 1`. Only
    /// [`MemoryStore::plant_unreadable`] puts an unreadable row here.
    events: Vec<ReadRow>,
    /// Indexes into `events` of each aggregate's events, in version order.
    by_aggregate: HashMap<(String, String), Vec<usize>>,
    bookmarks: HashMap<String, Cursor>,
    snapshots: HashMap<(String, String), Snapshot>,
    running_handlers: HashSet<String>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts a row that cannot be read as an event at the next position of `stream`, as a
    /// database shared with other programs can hold one: for tests of what readers and handlers
    /// do with it. Loads never see it (this store keeps no broken history).
    #[doc(hidden)]
    pub fn plant_unreadable(&self, stream: &str, aggregate_id: &str, reason: &str) -> Cursor {
        let mut inner = self.lock();
        let cursor = Cursor::at(i64::try_from(inner.events.len() + 1).unwrap_or(i64::MAX));
        inner.events.push(Err(UnreadableRow {
            cursor,
            stream: Some(stream.to_owned()),
            aggregate_id: Some(aggregate_id.to_owned()),
            reason: reason.to_owned(),
        }));
        cursor
    }

    /// A panic in another thread while it held the lock cannot leave the data half-written
    /// (every mutation is a single push or insert after all checks), so a poisoned lock is
    /// still safe to use.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stream of a row, when it has one.
fn row_stream(row: &ReadRow) -> Option<&str> {
    match row {
        Ok(event) => Some(&event.stream),
        Err(unreadable) => unreadable.stream.as_deref(),
    }
}

fn key(stream: &str, aggregate_id: &str) -> (String, String) {
    (stream.to_owned(), aggregate_id.to_owned())
}

impl Store for MemoryStore {
    async fn append(&self, append: Append<'_>) -> Result<(), Error> {
        let mut inner = self.lock();
        let key = key(append.stream, append.aggregate_id);
        let current = inner.by_aggregate.get(&key).map_or(0, Vec::len) as u64;
        // Versions must continue the aggregate exactly: any version at or below the current one
        // exists already, and a gap would break the fold's count.
        for (offset, event) in append.events.iter().enumerate() {
            if event.version != current + 1 + offset as u64 {
                let version = if event.version <= current {
                    event.version
                } else {
                    current + 1
                };
                return Err(Error::VersionConflict {
                    stream: append.stream.to_owned(),
                    aggregate_id: append.aggregate_id.to_owned(),
                    version,
                });
            }
        }
        let first_index = inner.events.len();
        for (offset, event) in append.events.iter().enumerate() {
            let position = i64::try_from(first_index + offset + 1).unwrap_or(i64::MAX);
            inner.events.push(Ok(RecordedEvent {
                cursor: Cursor::at(position),
                stream: append.stream.to_owned(),
                aggregate_id: append.aggregate_id.to_owned(),
                version: event.version,
                timestamp: append.timestamp,
                event: event.event.clone(),
                metadata: append.metadata.map(str::to_owned),
            }));
        }
        let indexes = inner.by_aggregate.entry(key).or_default();
        indexes.extend(first_index..first_index + append.events.len());
        Ok(())
    }

    async fn load(
        &self,
        stream: &str,
        aggregate_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let inner = self.lock();
        let Some(indexes) = inner.by_aggregate.get(&key(stream, aggregate_id)) else {
            return Ok(Vec::new());
        };
        let skip = usize::try_from(after_version).unwrap_or(usize::MAX);
        Ok(indexes
            .iter()
            .skip(skip)
            .filter_map(|&index| inner.events[index].as_ref().ok().cloned())
            .collect())
    }

    async fn read(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<ReadRow>, Error> {
        let inner = self.lock();
        let start = usize::try_from(after.position).unwrap_or(0);
        Ok(inner
            .events
            .iter()
            .skip(start)
            .filter(|row| row_stream(row).is_some_and(|stream| streams.contains(&stream)))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn last_cursor(&self, streams: &[&str]) -> Result<Cursor, Error> {
        let inner = self.lock();
        Ok(inner
            .events
            .iter()
            .rev()
            .find(|row| row_stream(row).is_some_and(|stream| streams.contains(&stream)))
            .map_or(Cursor::START, row_cursor))
    }

    async fn bookmark(&self, name: &str) -> Result<Option<Cursor>, Error> {
        Ok(self.lock().bookmarks.get(name).copied())
    }

    async fn set_bookmark(&self, name: &str, cursor: Cursor) -> Result<(), Error> {
        self.lock().bookmarks.insert(name.to_owned(), cursor);
        Ok(())
    }

    async fn snapshot(&self, stream: &str, aggregate_id: &str) -> Result<Option<Snapshot>, Error> {
        Ok(self
            .lock()
            .snapshots
            .get(&key(stream, aggregate_id))
            .cloned())
    }

    async fn save_snapshot(
        &self,
        stream: &str,
        aggregate_id: &str,
        snapshot: &Snapshot,
    ) -> Result<(), Error> {
        let mut inner = self.lock();
        let entry = inner.snapshots.entry(key(stream, aggregate_id));
        match entry {
            std::collections::hash_map::Entry::Occupied(mut stored) => {
                let newer_exists =
                    stored.get().tag == snapshot.tag && stored.get().version > snapshot.version;
                if !newer_exists {
                    stored.insert(snapshot.clone());
                }
            }
            std::collections::hash_map::Entry::Vacant(empty) => {
                empty.insert(snapshot.clone());
            }
        }
        Ok(())
    }

    async fn lock_handler(&self, name: &str) -> Result<HandlerLock, Error> {
        if !self.lock().running_handlers.insert(name.to_owned()) {
            return Err(Error::HandlerBusy {
                bookmark: name.to_owned(),
            });
        }
        Ok(HandlerLock::new(RunningHandler {
            store: self.clone(),
            name: name.to_owned(),
        }))
    }
}

/// Removes a handler from the running set when its lock is dropped.
struct RunningHandler {
    store: MemoryStore,
    name: String,
}

impl Drop for RunningHandler {
    fn drop(&mut self) {
        self.store.lock().running_handlers.remove(&self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_runs_once_at_a_time() {
        let store = MemoryStore::new();
        let held = store.lock_handler("model").await.unwrap();
        let second = store.lock_handler("model").await;
        assert!(matches!(second, Err(Error::HandlerBusy { ref bookmark }) if bookmark == "model"));
        assert!(store.lock_handler("other").await.is_ok());
        drop(held);
        assert!(store.lock_handler("model").await.is_ok());
    }
}
