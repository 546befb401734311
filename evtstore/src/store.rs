//! The storage interface every backend implements.

use std::fmt;
use std::future::Future;

use crate::aggregate::Snapshot;
use crate::error::Error;
use crate::event::{Append, Cursor, ReadRow, RecordedEvent};

/// Where events, bookmarks and snapshots live.
///
/// Everything is keyed by (stream, aggregate id): two aggregates of one stream, or two streams
/// with the same aggregate id, never see each other's events or snapshots. A store is a cheap
/// handle (clone it freely); clones share the same data.
///
/// The conformance suite in the workspace's `tests/` crate states the contract as executable
/// cases; a new store runs it with one line.
pub trait Store: Clone + Send + Sync + 'static {
    /// Appends the events of one aggregate, all or none.
    ///
    /// # Errors
    /// [`Error::VersionConflict`] when one of the versions exists already (nothing is
    /// appended then); [`Error::Database`] for every other failure.
    fn append(&self, append: Append<'_>) -> impl Future<Output = Result<(), Error>> + Send;

    /// The events of one aggregate with a version above `after_version`, in version order.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be read.
    fn load(
        &self,
        stream: &str,
        aggregate_id: &str,
        after_version: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send;

    /// Up to `limit` rows of the given streams after `after`, in cursor order. A row that
    /// cannot be read as an event is returned in its place as an [`UnreadableRow`](crate::UnreadableRow), so that it
    /// never hides the events around it.
    ///
    /// A store must never return an event and later commit one that sorts before it: a reader
    /// that bookmarks the last event it read would skip the late one forever.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be read.
    fn read(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ReadRow>, Error>> + Send;

    /// The cursor of the last event of the given streams, or [`Cursor::START`] when they are
    /// empty. Tailing handlers start here.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be read.
    fn last_cursor(&self, streams: &[&str]) -> impl Future<Output = Result<Cursor, Error>> + Send;

    /// The stored bookmark, or `None` when none was stored under that name.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be read.
    fn bookmark(&self, name: &str) -> impl Future<Output = Result<Option<Cursor>, Error>> + Send;

    /// Stores a bookmark, creating or replacing it atomically.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be written.
    fn set_bookmark(
        &self,
        name: &str,
        cursor: Cursor,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// The stored snapshot of an aggregate, whatever its tag.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be read.
    fn snapshot(
        &self,
        stream: &str,
        aggregate_id: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, Error>> + Send;

    /// Stores the snapshot of an aggregate, replacing the previous one unless that one has a
    /// higher version under the same tag.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be written.
    fn save_snapshot(
        &self,
        stream: &str,
        aggregate_id: &str,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Replays an aggregate for folding, in one read where the store can: first the snapshot
    /// stored under `snapshot_tag` when one is given and that snapshot is newer than
    /// `after_version`, then every event after the snapshot (or after `after_version` when
    /// no such snapshot exists), in version order. Each item is handed to `visit` as it is
    /// read, borrowed from the store's row: nothing is copied that the fold does not keep.
    /// An error from `visit` ends the replay and is returned.
    ///
    /// The default reads [`snapshot`](Self::snapshot) and [`load`](Self::load); SQL stores
    /// override it with a single statement of three columns per event.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be read, and whatever `visit` returns.
    fn replay<F>(
        &self,
        stream: &str,
        aggregate_id: &str,
        after_version: u64,
        snapshot_tag: Option<&str>,
        mut visit: F,
    ) -> impl Future<Output = Result<(), Error>> + Send
    where
        F: FnMut(Replayed<'_>) -> Result<(), Error> + Send,
    {
        async move {
            let mut from = after_version;
            if let Some(tag) = snapshot_tag
                && let Some(snapshot) = self.snapshot(stream, aggregate_id).await?
                && snapshot.tag == tag
                && snapshot.version > after_version
            {
                from = snapshot.version;
                visit(Replayed::Snapshot {
                    version: snapshot.version,
                    state: &snapshot.state,
                })?;
            }
            for event in self.load(stream, aggregate_id, from).await? {
                visit(Replayed::Event {
                    version: event.version,
                    position: event.cursor.position,
                    event: &event.event,
                })?;
            }
            Ok(())
        }
    }

    /// Claims the right to run the handler `name` until the returned lock is dropped, so that
    /// two runners of one handler never interleave their bookmarks.
    ///
    /// The default grants every claim: it suits stores used by a single runner. The memory
    /// store refuses a second claim in the same process; a shared database can use its own
    /// locks (a PostgreSQL advisory lock, say) to exclude other processes too.
    ///
    /// # Errors
    /// [`Error::HandlerBusy`] when another runner holds the lock.
    fn lock_handler(&self, name: &str) -> impl Future<Output = Result<HandlerLock, Error>> + Send {
        let _ = name;
        async { Ok(HandlerLock::unguarded()) }
    }
}

/// One item of [`Store::replay`], borrowed from the row it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replayed<'a> {
    /// The aggregate's snapshot under the requested tag; always first when present.
    Snapshot {
        /// The number of events folded into `state`.
        version: u64,
        /// The encoded state.
        state: &'a str,
    },
    /// One event of the aggregate.
    Event {
        /// The aggregate's version after the event.
        version: u64,
        /// The event's global position, for error messages.
        position: i64,
        /// The event as JSON text with a `type` field.
        event: &'a str,
    },
}

/// The right to run one handler; released when dropped.
pub struct HandlerLock {
    _guard: Option<Box<dyn Send + Sync>>,
}

impl HandlerLock {
    /// A lock that guards nothing, for stores that do not exclude runners.
    #[must_use]
    pub fn unguarded() -> Self {
        HandlerLock { _guard: None }
    }

    /// A lock held as long as `guard` lives; dropping the lock drops the guard, which releases
    /// whatever it holds.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        HandlerLock {
            _guard: Some(Box::new(guard)),
        }
    }
}

impl fmt::Debug for HandlerLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerLock")
            .field("guarded", &self._guard.is_some())
            .finish()
    }
}
