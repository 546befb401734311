//! Event handlers: named readers that follow one or more streams in global order and remember
//! where they are with a bookmark.
//!
//! A handler reads a page of events after its bookmark, hands each to its model, and moves the
//! bookmark past the page. Its streams are registered in one of two ways, and what a crash can
//! do differs:
//!
//! - **Plain** ([`HandlerBuilder::stream`], the model implements [`HandledBy`]): the bookmark
//!   is stored after the page (while the next page is handled; while catching up, at most
//!   every [`HandlerBuilder::bookmark_every`], and always when a run ends), so a crash between
//!   handling an event and storing the bookmark hands the event over again on restart. Delivery is
//!   *at least once*, in order; the model should be idempotent (the event's position,
//!   [`EventMeta::position`](crate::EventMeta), is a natural idempotency key).
//! - **Transactional** ([`HandlerBuilder::project`], the model implements [`ProjectedBy`]):
//!   each page is handled in one transaction of the store ([`Store::Transaction`]) that the
//!   model writes its read model through, and the bookmark is moved in that same
//!   transaction. The read model's writes are applied *exactly once* per event whatever
//!   crashes: a page is kept whole, with its bookmark, or not at all (a commit whose outcome
//!   is unknown is waited for before the bookmark is read again). What the model does outside
//!   the transaction stays at least once, and so do writes the database cannot roll back
//!   (DDL on MySQL/MariaDB commits implicitly: keep it out of projections).
//!
//! **One runner at a time, across processes.** Any number of processes may run a handler of
//! the same name; each bookmark is guarded by a claim in the store ([`Store::claim`]), so one
//! runner handles it at a time. The claim is a lease on the database clock
//! ([`HandlerBuilder::lease`], [`DEFAULT_LEASE`] 10 s), renewed while the runner works; a
//! killed runner is replaced when its lease runs out, a stopped one at once (on SQLite and
//! MySQL across processes, at the standby's next claim poll: see [`HandlerHandle::stop`]).
//! Every bookmark
//! write and projection commit is *fenced*: it names the claim's epoch and is refused
//! ([`Error::ClaimLost`]) once another runner has taken the claim over, so that a runner paused
//! past its lease cannot move the bookmark or commit a page any more. A plain model's side
//! effects are not fenced: a paused runner may still hand events of its page to the model after
//! its lease ran out, so that they are handled twice, never skipped.
//!
//! **Segments.** [`HandlerBuilder::segments`] splits a handler by a stable hash of the
//! aggregate id ([`Segment`]): each segment has its own claim and bookmark, so that several
//! processes share the work, and one aggregate's events are always handled by one segment, in
//! order. The segment count is part of the bookmark names (`name#index/count`): a handler
//! split differently starts new bookmarks from the beginning and is a new projection; while
//! processes with the old and the new count both run, both handle the events. Change the
//! count as you would rename the handler (new read-model tables, then drop the old).
//!
//! Claims fence only runners of this library: a TypeScript evtstore handler of the same name
//! moves the bookmark without a claim.
//!
//! A handler whose bookmark is kept in memory ([`HandlerBuilder::bookmark_in_memory`]) takes
//! no claim: every process runs its own copy.

mod builder;
mod dispatch;
mod lane;
mod model;
mod pages;
mod runner;
mod segment;
mod status;
mod wait;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::Error;
pub use crate::handler::builder::{
    BatchReport, DEFAULT_BOOKMARK_EVERY, DEFAULT_LEASE, HandlerBuilder, HandlerOptions,
};
pub(crate) use crate::handler::builder::{BookmarkHome, Settings};
use crate::handler::dispatch::Route;
pub use crate::handler::dispatch::{HandledBy, HandlerResult, ProjectedBy};
use crate::handler::lane::Lane;
pub use crate::handler::model::HandlerModel;
pub use crate::handler::runner::HandlerHandle;
pub use crate::handler::segment::Segment;
pub use crate::handler::status::HandlerStatus;
use crate::store::Store;

/// A named reader of one or more streams. Cheap to clone; clones share the model, the
/// bookmarks and the claims.
pub struct EventHandler<S: Store, H> {
    inner: Arc<Inner<S, H>>,
}

pub(crate) struct Inner<S: Store, H> {
    pub(crate) store: S,
    pub(crate) name: String,
    /// Who this handler object is when it claims a lane.
    pub(crate) owner: String,
    pub(crate) model: H,
    pub(crate) streams: Vec<&'static str>,
    pub(crate) routes: Vec<Route<S, H>>,
    /// Whether pages run in a transaction (some route projects).
    pub(crate) transactional: bool,
    pub(crate) settings: Settings,
    pub(crate) lanes: Vec<Lane>,
    /// How many lanes the started runner holds or is claiming, against
    /// `settings.max_claimed_segments`.
    pub(crate) slots: AtomicUsize,
}

impl<S: Store, H> Clone for EventHandler<S, H> {
    fn clone(&self) -> Self {
        EventHandler {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Store, H> fmt::Debug for EventHandler<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHandler")
            .field("bookmark", &self.inner.name)
            .field("streams", &self.inner.streams)
            .field("segments", &self.inner.lanes.len())
            .field("owner", &self.inner.owner)
            .field("options", &self.inner.settings.options)
            .finish_non_exhaustive()
    }
}

impl<S: Store, H> EventHandler<S, H> {
    pub(crate) fn from_inner(inner: Inner<S, H>) -> Self {
        EventHandler {
            inner: Arc::new(inner),
        }
    }

    /// The handler's name: its bookmark name, or the prefix of its segments' bookmark names
    /// (`name#index/count`, [`Segment::bookmark`]).
    pub fn bookmark(&self) -> &str {
        &self.inner.name
    }

    /// The streams the handler reads, in registration order.
    pub fn streams(&self) -> &[&'static str] {
        &self.inner.streams
    }

    /// The model the events are handed to.
    pub fn model(&self) -> &H {
        &self.inner.model
    }

    /// How many segments the handler is split into (1 when it is not split).
    pub fn segment_count(&self) -> u32 {
        u32::try_from(self.inner.lanes.len()).unwrap_or(u32::MAX)
    }

    /// The name this handler object claims under: the process id and a random part, unique
    /// to this object.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }
}

impl<S: Store, H: HandlerModel> EventHandler<S, H> {
    /// Handles every event after the bookmark, page after page, until a read finds nothing
    /// new, and returns how many events were handled without error. Each segment is run in
    /// turn, each even when another failed or is busy (the first error is returned after all
    /// have run). A segment this handler object does not hold is claimed for the run and let
    /// go after it.
    ///
    /// # Errors
    /// [`Error::Handler`] for a failing event (unless `continue_on_error`), after storing the
    /// bookmark of the last event handled; [`Error::HandlerBusy`] when another runner holds
    /// the claim; [`Error::ClaimLost`] when it was taken over during the run; the store's
    /// errors.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let mut handled = 0;
        let mut first_error = None;
        // Every segment gets its run: one held elsewhere (or failing) does not hold up the
        // others. The first error is returned after them.
        for lane in &self.inner.lanes {
            match self.run_lane_once(lane).await {
                Ok(count) => handled += count,
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            None => Ok(handled),
            Some(error) => Err(error),
        }
    }

    /// As [`run_once`](Self::run_once), for one segment of a segmented handler (segment 0 of
    /// one that is not split).
    ///
    /// # Errors
    /// [`Error::Config`] for a segment the handler does not have, and those of `run_once`.
    pub async fn run_segment_once(&self, index: u32) -> Result<usize, Error> {
        let lane = usize::try_from(index)
            .ok()
            .and_then(|index| self.inner.lanes.get(index))
            .ok_or_else(|| {
                Error::Config(format!(
                    "handler `{}` has {} segments; there is no segment {index}",
                    self.inner.name,
                    self.inner.lanes.len()
                ))
            })?;
        self.run_lane_once(lane).await
    }

    async fn run_lane_once(&self, lane: &Lane) -> Result<usize, Error> {
        let mut state = lane.state.lock().await;
        let claimed_here = state.held.is_none();
        if !self.hold(lane, &mut state).await? {
            return Err(Error::HandlerBusy {
                bookmark: lane.bookmark.clone(),
            });
        }
        let outcome = self.run_pages(lane, &mut state, None).await;
        // Let go of a claim taken only for this run; a started runner of this object keeps
        // the one it holds.
        let mut released = Ok(());
        if claimed_here
            && state.held.is_some()
            && !lane.has_slot.load(Ordering::Acquire)
            && let Some(claim) = state.drop_claim()
        {
            // A release that fails leaves the claim in this object's name until its lease
            // runs out; this object may take it again meanwhile (`Store::claim`).
            released = self.inner.store.release_claim(&claim).await;
        }
        // The run's own error explains more than a failed release after it.
        let (_, handled) = outcome?;
        released.map(|()| handled)
    }

    /// Forgets the cached bookmarks: the next run reads them from the store again, and an
    /// `always_tail_stream` handler starts at the end again.
    pub async fn reset(&self) {
        for lane in &self.inner.lanes {
            let mut state = lane.state.lock().await;
            state.position = None;
            state.claimed_bookmark = None;
            state.begun = false;
        }
    }

    pub(crate) fn report(&self, error: &Error) {
        match &self.inner.settings.on_error {
            Some(hook) => hook(error),
            None => tracing::error!(bookmark = %self.inner.name, %error, "event handler error"),
        }
    }
}

#[cfg(test)]
mod tests;
