//! The storage interface every backend implements.

use std::future::Future;
use std::time::Duration;

use crate::aggregate::Snapshot;
use crate::error::Error;
use crate::event::{Append, Cursor, ReadRow, RecordedEvent};
use crate::page::Page;
use crate::wakeup::Wakeups;

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

    /// [`read`](Self::read) as a [`Page`]: what handlers read through. The default wraps the
    /// rows `read` returns; a store that decodes rows ahead of its handlers returns them as
    /// [`PackedRows`](crate::PackedRows), so that a handler copies out of each row only what
    /// its model gets (see [`Page`]).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    fn read_page(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> impl Future<Output = Result<Page, Error>> + Send {
        async move { self.read(streams, after, limit).await.map(Page::from) }
    }

    /// The cursor of the last committed event of the given streams, or [`Cursor::START`] when
    /// they are empty: the true end of history, also when a store's gap-safe reads still hold
    /// that event back (PostgreSQL, behind an older transaction still running). Tailing
    /// handlers start here.
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
    /// This write is not fenced: it is for tools and migrations (moving a handler back to
    /// replay, say) while no runner holds the handler's claim. Runners move their bookmark
    /// with [`set_claimed_bookmark`](Self::set_claimed_bookmark) or
    /// [`commit_claimed`](Self::commit_claimed).
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
    /// The default reads [`snapshot`](Self::snapshot) and [`load`](Self::load). SQL stores
    /// override it: without a snapshot tag, with a single statement of three columns a row
    /// (version, position, event).
    /// With a snapshot tag, SQLite adds a fourth, the kind of row, to the same statement;
    /// PostgreSQL and MySQL first read the snapshot with the aggregate's highest version, and
    /// read the events only when some follow the snapshot (usually none do: every command
    /// stores one). See also [`replay_without_positions`](Self::replay_without_positions).
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
                    position: Some(event.cursor.position),
                    event: &event.event,
                })?;
            }
            Ok(())
        }
    }

    /// [`replay`](Self::replay) for a fold that reads no event positions: the store may hand
    /// each [`Replayed::Event`] over with `position: None`, and so read less per row. The
    /// versions are still whole: every event from the first after the snapshot (or after
    /// `after_version`) up to the last, in order, each with its version. A store that
    /// leaves positions out must still refuse what [`replay`](Self::replay) refuses, so when
    /// its lighter read finds anything amiss it can read again the way `replay` does (before
    /// `visit` has seen an item) and let that read report it.
    ///
    /// [`Domain`](crate::Domain) asks for this when an aggregate has no upcasters (its
    /// upcasters read positions). When the fold fails on an event (it does not decode, or its
    /// version does not follow), the domain replays again with positions for the error.
    ///
    /// The default calls [`replay`](Self::replay). The SQLite store reads an aggregate
    /// without snapshots as the events' text alone, in one statement whose first row also
    /// carries the aggregate's last version, and with a snapshot tag as `replay` does.
    /// PostgreSQL and MySQL read the version and the event, without the position, for every
    /// event they hand over, after a snapshot too.
    ///
    /// # Errors
    /// As [`replay`](Self::replay).
    fn replay_without_positions<F>(
        &self,
        stream: &str,
        aggregate_id: &str,
        after_version: u64,
        snapshot_tag: Option<&str>,
        visit: F,
    ) -> impl Future<Output = Result<(), Error>> + Send
    where
        F: FnMut(Replayed<'_>) -> Result<(), Error> + Send,
    {
        self.replay(stream, aggregate_id, after_version, snapshot_tag, visit)
    }

    /// Takes the claim `name` (a handler's bookmark name: one claim per handler, or per
    /// segment of a segmented handler) for `owner`, when nobody holds it, its holder let it go,
    /// or its lease has run out. Every grant raises the claim's epoch, so that a previous
    /// holder's fenced writes ([`set_claimed_bookmark`](Self::set_claimed_bookmark),
    /// [`commit_claimed`](Self::commit_claimed)) fail from then on. Returns `None` when another
    /// owner holds an unexpired lease.
    ///
    /// Leases are measured on the store's clock (the database server's), so processes on
    /// machines whose clocks disagree still agree on expiry. A lease longer than
    /// [`MAX_LEASE`] is taken as `MAX_LEASE`. The owner that holds the claim may take it again
    /// at once (a new epoch): a runner whose release failed is not locked out by its own lease.
    ///
    /// # Errors
    /// [`Error::TooLong`] for a name the store cannot keep; [`Error::Database`] when the store
    /// cannot be read or written.
    fn claim(
        &self,
        name: &str,
        owner: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Option<Claimed>, Error>> + Send;

    /// Extends the lease of a claim still held.
    ///
    /// # Errors
    /// [`Error::ClaimLost`] when the claim has been taken over since (its epoch moved on);
    /// [`Error::Database`] when the store cannot be written.
    fn renew_claim(
        &self,
        claim: &Claim,
        lease: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Lets a claim go at once, so that another runner takes it over without waiting for the
    /// lease to run out. Releasing a claim that was already lost does nothing.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be written.
    fn release_claim(&self, claim: &Claim) -> impl Future<Output = Result<(), Error>> + Send;

    /// Who holds the claim `name` now, if anyone: for health checks and operators, from any
    /// process. A claim let go, or whose lease has run out, is held by nobody.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be read.
    fn claim_holder(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ClaimHolder>, Error>> + Send;

    /// Stores the bookmark of a claim and extends its lease, in one atomic step that succeeds
    /// only while the claim is still this runner's (same owner, same epoch).
    ///
    /// # Errors
    /// [`Error::ClaimLost`] when the claim was taken over (nothing is written then);
    /// [`Error::Database`] when the store cannot be written.
    fn set_claimed_bookmark(
        &self,
        claim: &Claim,
        cursor: Cursor,
        lease: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// How many rows of `streams` lie after `after` and at or before `until`: how far a
    /// handler at `after` is behind the end `until` ([`HandlerStatus`](crate::HandlerStatus)).
    /// The default reads the rows in pages of 10,000 and counts them; the SQL stores count in
    /// the database.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be read.
    fn count_between(
        &self,
        streams: &[&str],
        after: Cursor,
        until: Cursor,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        async move {
            let mut behind = 0;
            let mut from = after;
            while from < until {
                let page = self.read(streams, from, 10_000).await?;
                let Some(last) = page.last() else { break };
                from = crate::event::row_cursor(last);
                behind += page
                    .iter()
                    .filter(|row| crate::event::row_cursor(row) <= until)
                    .count() as u64;
            }
            Ok(behind)
        }
    }

    /// The store's wake-up signal, if it has one: handlers started on the store wait on it
    /// between polls, so that an append wakes them at once ([`Wakeups`]). A store without one
    /// (the default) is polled. A store sends a wake-up after each append it commits, and may
    /// send more (for appends made by other processes, when it can learn of them).
    fn wakeups(&self) -> Option<&Wakeups> {
        None
    }

    /// The store's signal for claims let go ([`release_claim`](Self::release_claim)), if it
    /// has one: runners standing by for a claim wait on it between claim polls, so that a
    /// stopped runner's claim is taken over at once. A store without one (the default) leaves
    /// them to their claim poll.
    fn claim_releases(&self) -> Option<&Wakeups> {
        None
    }

    /// The store's open transaction handed to a transactional projection with each event
    /// (for the SQL stores, the backend's `sqlx::Transaction`). Dropping it rolls it back.
    type Transaction: Send + 'static;

    /// Opens a transaction for a projection's page. Events are never read through it: on
    /// PostgreSQL an open writing transaction holds back the gap-safe read bound, so a read
    /// inside it would wait on itself.
    ///
    /// # Errors
    /// [`Error::Database`] when no transaction can be opened.
    fn begin(&self) -> impl Future<Output = Result<Self::Transaction, Error>> + Send;

    /// Marks a point in `transaction` that [`rollback_to_savepoint`](Self::rollback_to_savepoint)
    /// returns to: a projection that continues after a failing event undoes that event's
    /// writes alone.
    ///
    /// # Errors
    /// [`Error::Database`] when the statement fails.
    fn savepoint(
        &self,
        transaction: &mut Self::Transaction,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Undoes every write since the last [`savepoint`](Self::savepoint), which stays (as in
    /// SQL) until [`release_savepoint`](Self::release_savepoint).
    ///
    /// # Errors
    /// [`Error::Database`] when the statement fails.
    fn rollback_to_savepoint(
        &self,
        transaction: &mut Self::Transaction,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Keeps the writes since the last [`savepoint`](Self::savepoint) and forgets it.
    ///
    /// # Errors
    /// [`Error::Database`] when the statement fails.
    fn release_savepoint(
        &self,
        transaction: &mut Self::Transaction,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Commits `transaction` without a bookmark: for a projection whose bookmark is kept in
    /// memory ([`HandlerBuilder::bookmark_in_memory`](crate::HandlerBuilder::bookmark_in_memory)).
    ///
    /// # Errors
    /// [`Error::Database`] when the commit fails (nothing is kept then).
    fn commit(
        &self,
        transaction: Self::Transaction,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Stores the bookmark of a claim in `transaction` and commits it: the projection's writes
    /// and the bookmark become visible together or not at all. The bookmark write is fenced as
    /// in [`set_claimed_bookmark`](Self::set_claimed_bookmark), and holds the claim until the
    /// commit, so that a runner taking over after it reads this bookmark.
    ///
    /// # Errors
    /// [`Error::ClaimLost`] when the claim was taken over (the transaction is rolled back);
    /// [`Error::Database`] when the write or the commit fails (nothing is kept then).
    fn commit_claimed(
        &self,
        transaction: Self::Transaction,
        claim: &Claim,
        cursor: Cursor,
        lease: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The longest lease a store grants: a longer one is taken as this (one day), so that no
/// clock arithmetic overflows.
pub const MAX_LEASE: Duration = Duration::from_secs(24 * 60 * 60);

/// The right of one runner to move one bookmark, granted by [`Store::claim`].
///
/// The epoch is the fencing token: it rises with every grant, and every write made under the
/// claim names it, so that a runner that lost its claim (paused past its lease, cut off from
/// the database) cannot move the bookmark any more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The bookmark name the claim is for.
    pub name: String,
    /// Who holds it: unique per runner.
    pub owner: String,
    /// The fencing token of this grant.
    pub epoch: i64,
}

/// Who holds a claim, as [`Store::claim_holder`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimHolder {
    /// The holder's owner name: the process id and a random part
    /// ([`EventHandler::owner`](crate::EventHandler::owner)).
    pub owner: String,
    /// The epoch of its grant.
    pub epoch: i64,
    /// How long its lease still runs unless renewed, on the store's clock.
    pub lease_left: Duration,
}

impl ClaimHolder {
    /// The holder of a claim row read as (owner, epoch, milliseconds of lease left): `None`
    /// when the row names nobody or its lease has run out. For store implementations.
    #[must_use]
    pub fn held(owner: String, epoch: i64, lease_left_millis: i64) -> Option<Self> {
        let left = u64::try_from(lease_left_millis)
            .ok()
            .filter(|&left| left > 0)?;
        (!owner.is_empty()).then(|| ClaimHolder {
            owner,
            epoch,
            lease_left: Duration::from_millis(left),
        })
    }
}

/// A granted claim and the bookmark stored under it, read in the same step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The claim.
    pub claim: Claim,
    /// The stored bookmark, `None` when no bookmark was stored under the name.
    pub bookmark: Option<Cursor>,
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
        /// The event's global position, for error messages and upcasters; always given by
        /// [`Store::replay`], and `None` where
        /// [`Store::replay_without_positions`] left it out.
        position: Option<i64>,
        /// The event as JSON text with a `type` field.
        event: &'a str,
    },
}
