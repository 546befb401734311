//! A store that keeps everything in memory: for tests, examples and single-process tools.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::aggregate::Snapshot;
use crate::error::Error;
use crate::event::{Append, Cursor, ReadRow, RecordedEvent, UnreadableRow, row_cursor};
use crate::store::{Claim, ClaimHolder, Claimed, MAX_LEASE, Store};
use crate::wakeup::Wakeups;

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
    wakeups: Arc<Wakeups>,
    releases: Arc<Wakeups>,
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
    claims: HashMap<String, ClaimRow>,
}

/// Who holds a claim, under which epoch, until when.
#[derive(Debug)]
struct ClaimRow {
    owner: Option<String>,
    epoch: i64,
    until: Instant,
}

impl ClaimRow {
    fn is_held_by(&self, claim: &Claim) -> bool {
        self.epoch == claim.epoch && self.owner.as_deref() == Some(claim.owner.as_str())
    }
}

/// The transaction of a [`MemoryStore`]: what a projection does in it is a list of effects,
/// run in order when the page commits (together with the bookmark, under the store's lock)
/// and dropped when it rolls back.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use evtstore::MemoryTransaction;
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let mut transaction = MemoryTransaction::default();
/// let kept = Arc::clone(&seen);
/// transaction.on_commit(move || kept.lock().unwrap().push("created"));
/// // Nothing has happened yet: the effect runs when the handler commits the page.
/// assert!(seen.lock().unwrap().is_empty());
/// ```
#[derive(Default)]
pub struct MemoryTransaction {
    effects: Vec<Box<dyn FnOnce() + Send>>,
    savepoints: Vec<usize>,
}

impl MemoryTransaction {
    /// Runs `effect` when the transaction commits, after the effects registered before it.
    /// Effects run while the store is locked: they must not call the store.
    pub fn on_commit(&mut self, effect: impl FnOnce() + Send + 'static) {
        self.effects.push(Box::new(effect));
    }
}

impl fmt::Debug for MemoryTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTransaction")
            .field("effects", &self.effects.len())
            .field("savepoints", &self.savepoints.len())
            .finish()
    }
}

fn claim_lost(claim: &Claim) -> Error {
    Error::ClaimLost {
        bookmark: claim.name.clone(),
        epoch: claim.epoch,
    }
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
        drop(inner);
        self.wakeups.notify();
        Ok(())
    }

    fn wakeups(&self) -> Option<&Wakeups> {
        Some(&self.wakeups)
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

    async fn claim(
        &self,
        name: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Claimed>, Error> {
        let now = Instant::now();
        let mut inner = self.lock();
        let row = inner.claims.entry(name.to_owned()).or_insert(ClaimRow {
            owner: None,
            epoch: 0,
            until: now,
        });
        // The owner itself may take its claim again at once (as on the SQL stores: a release
        // that failed leaves the claim in its name); the new epoch fences the old grant.
        if row.owner.as_deref().is_some_and(|holder| holder != owner) && row.until > now {
            return Ok(None);
        }
        row.owner = Some(owner.to_owned());
        row.epoch += 1;
        row.until = now + lease.min(MAX_LEASE);
        let claim = Claim {
            name: name.to_owned(),
            owner: owner.to_owned(),
            epoch: row.epoch,
        };
        let bookmark = inner.bookmarks.get(name).copied();
        Ok(Some(Claimed { claim, bookmark }))
    }

    async fn renew_claim(&self, claim: &Claim, lease: Duration) -> Result<(), Error> {
        let mut inner = self.lock();
        match inner.claims.get_mut(&claim.name) {
            Some(row) if row.is_held_by(claim) => {
                row.until = Instant::now() + lease.min(MAX_LEASE);
                Ok(())
            }
            _ => Err(claim_lost(claim)),
        }
    }

    async fn release_claim(&self, claim: &Claim) -> Result<(), Error> {
        let mut inner = self.lock();
        if let Some(row) = inner.claims.get_mut(&claim.name)
            && row.is_held_by(claim)
        {
            row.owner = None;
            drop(inner);
            self.releases.notify();
        }
        Ok(())
    }

    fn claim_releases(&self) -> Option<&Wakeups> {
        Some(&self.releases)
    }

    async fn claim_holder(&self, name: &str) -> Result<Option<ClaimHolder>, Error> {
        let inner = self.lock();
        let now = Instant::now();
        Ok(inner.claims.get(name).and_then(|row| {
            let owner = row.owner.clone()?;
            let left = row
                .until
                .checked_duration_since(now)
                .filter(|left| !left.is_zero())?;
            Some(ClaimHolder {
                owner,
                epoch: row.epoch,
                lease_left: left,
            })
        }))
    }

    async fn set_claimed_bookmark(
        &self,
        claim: &Claim,
        cursor: Cursor,
        lease: Duration,
    ) -> Result<(), Error> {
        let mut inner = self.lock();
        inner.move_claimed_bookmark(claim, cursor, lease)
    }

    type Transaction = MemoryTransaction;

    async fn begin(&self) -> Result<MemoryTransaction, Error> {
        Ok(MemoryTransaction::default())
    }

    async fn savepoint(&self, transaction: &mut MemoryTransaction) -> Result<(), Error> {
        transaction.savepoints.push(transaction.effects.len());
        Ok(())
    }

    async fn rollback_to_savepoint(
        &self,
        transaction: &mut MemoryTransaction,
    ) -> Result<(), Error> {
        // As in SQL, the savepoint stays until it is released.
        let mark = *transaction.savepoints.last().ok_or_else(no_savepoint)?;
        transaction.effects.truncate(mark);
        Ok(())
    }

    async fn release_savepoint(&self, transaction: &mut MemoryTransaction) -> Result<(), Error> {
        transaction.savepoints.pop().ok_or_else(no_savepoint)?;
        Ok(())
    }

    async fn commit(&self, transaction: MemoryTransaction) -> Result<(), Error> {
        let _inner = self.lock();
        for effect in transaction.effects {
            effect();
        }
        Ok(())
    }

    async fn commit_claimed(
        &self,
        transaction: MemoryTransaction,
        claim: &Claim,
        cursor: Cursor,
        lease: Duration,
    ) -> Result<(), Error> {
        let mut inner = self.lock();
        inner.move_claimed_bookmark(claim, cursor, lease)?;
        for effect in transaction.effects {
            effect();
        }
        Ok(())
    }
}

impl Inner {
    /// The fenced bookmark write: only the claim's current holder moves it.
    fn move_claimed_bookmark(
        &mut self,
        claim: &Claim,
        cursor: Cursor,
        lease: Duration,
    ) -> Result<(), Error> {
        match self.claims.get_mut(&claim.name) {
            Some(row) if row.is_held_by(claim) => {
                row.until = Instant::now() + lease.min(MAX_LEASE);
                self.bookmarks.insert(claim.name.clone(), cursor);
                Ok(())
            }
            _ => Err(claim_lost(claim)),
        }
    }
}

fn no_savepoint() -> Error {
    Error::Config("no savepoint to return to in this memory transaction".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_claim_is_held_by_one_owner_and_fences_the_previous_one() {
        let store = MemoryStore::new();
        let first = store.claim("model", "a", LEASE).await.unwrap().unwrap();
        assert_eq!(first.claim.epoch, 1);
        assert_eq!(first.bookmark, None);
        assert_eq!(store.claim("model", "b", LEASE).await.unwrap(), None);
        assert!(store.claim("other", "b", LEASE).await.unwrap().is_some());
        store
            .set_claimed_bookmark(&first.claim, Cursor::at(3), LEASE)
            .await
            .unwrap();
        store.release_claim(&first.claim).await.unwrap();
        let second = store.claim("model", "b", LEASE).await.unwrap().unwrap();
        assert_eq!(second.claim.epoch, 2);
        assert_eq!(second.bookmark, Some(Cursor::at(3)));
        let refused = store
            .set_claimed_bookmark(&first.claim, Cursor::at(9), LEASE)
            .await;
        assert!(matches!(refused, Err(Error::ClaimLost { epoch: 1, .. })));
        assert_eq!(store.bookmark("model").await.unwrap(), Some(Cursor::at(3)));
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over() {
        let store = MemoryStore::new();
        let first = store
            .claim("model", "a", Duration::ZERO)
            .await
            .unwrap()
            .unwrap();
        let second = store.claim("model", "b", LEASE).await.unwrap().unwrap();
        assert_eq!(second.claim.epoch, first.claim.epoch + 1);
        assert!(store.renew_claim(&first.claim, LEASE).await.is_err());
    }
}
