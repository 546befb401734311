//! Lanes: the unit a runner claims. An unsplit handler has one lane named after it; a
//! segmented one has a lane per segment. Each lane has its own claim, bookmark and cached
//! position.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::Mutex;

use crate::error::Error;
use crate::event::Cursor;
use crate::handler::model::HandlerModel;
use crate::handler::segment::Segment;
use crate::handler::{BookmarkHome, EventHandler};
use crate::store::{Claim, Store};

/// One claimable part of a handler.
pub(crate) struct Lane {
    /// The bookmark and claim name.
    pub(crate) bookmark: String,
    pub(crate) segment: Option<Segment>,
    /// Whether a started runner of this handler object holds (or is taking) a slot of
    /// [`max_claimed_segments`](crate::HandlerBuilder::max_claimed_segments) for this lane.
    pub(crate) has_slot: AtomicBool,
    /// Holding the lock also keeps two runs of this lane from overlapping in this process.
    pub(crate) state: Mutex<LaneState>,
    /// When an event of this lane was last handled here; outside `state`, so that a status
    /// query does not wait for a run in progress.
    last_handled: std::sync::Mutex<Option<std::time::SystemTime>>,
    /// The furthest cursor a run of this handler object has handled (and, for a projection,
    /// committed) on this lane; outside `state` for the same reason.
    reached: std::sync::Mutex<Option<Cursor>>,
    /// Notified whenever `reached` moves, for [`EventHandler::wait_until_handled`].
    pub(crate) advanced: tokio::sync::Notify,
}

impl Lane {
    pub(crate) fn new(bookmark: String, segment: Option<Segment>) -> Self {
        Lane {
            bookmark,
            segment,
            has_slot: AtomicBool::new(false),
            state: Mutex::new(LaneState::default()),
            last_handled: std::sync::Mutex::new(None),
            reached: std::sync::Mutex::new(None),
            advanced: tokio::sync::Notify::new(),
        }
    }

    /// Notes that a run of this handler object has handled this lane up to `cursor`, and wakes
    /// whoever waits for it.
    pub(crate) fn advanced_to(&self, cursor: Cursor) {
        {
            let mut reached = self
                .reached
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if reached.is_some_and(|reached| reached >= cursor) {
                return;
            }
            *reached = Some(cursor);
        }
        self.advanced.notify_waiters();
    }

    /// How far runs of this handler object have handled this lane.
    pub(crate) fn reached(&self) -> Option<Cursor> {
        *self
            .reached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes that events of this lane were handled just now.
    pub(crate) fn handled_now(&self) {
        *self
            .last_handled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(std::time::SystemTime::now());
    }

    /// When events of this lane were last handled here.
    pub(crate) fn last_handled(&self) -> Option<std::time::SystemTime> {
        *self
            .last_handled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a runner knows about its lane between runs.
#[derive(Debug, Default)]
pub(crate) struct LaneState {
    /// The claim this handler object holds, if any.
    pub(crate) held: Option<Held>,
    /// The bookmark read with the claim, not yet turned into a position.
    pub(crate) claimed_bookmark: Option<Option<Cursor>>,
    /// The bookmark as last read or written; `None` until the first run, after `reset`, after
    /// a commit whose outcome is unknown, and after the claim was lost or let go (another
    /// runner may have moved it since).
    pub(crate) position: Option<Cursor>,
    /// Whether this handler object has started the lane (since it was built or `reset`): an
    /// `always_tail_stream` handler jumps to the end only when it has not, and otherwise
    /// resumes from the stored bookmark, so that letting go of a claim between runs, or a
    /// commit that may not have gone through, never skips events.
    pub(crate) begun: bool,
    /// The last projection commit failed in a way that leaves unknown whether it went
    /// through: the next run waits for it to end before reading the bookmark.
    pub(crate) commit_unknown: bool,
}

impl LaneState {
    /// The claim held, if any.
    pub(crate) fn claim(&self) -> Option<&Claim> {
        self.held.as_ref().map(|held| &held.claim)
    }

    /// Notes that a write sent at `sent` extended the lease.
    pub(crate) fn renewed(&mut self, sent: Instant) {
        if let Some(held) = &mut self.held {
            held.renewed = sent;
        }
    }

    /// Forgets the claim and the bookmark learned under it.
    pub(crate) fn drop_claim(&mut self) -> Option<Claim> {
        self.position = None;
        self.claimed_bookmark = None;
        // A new claim's grant waits for any commit still holding the bookmark row.
        self.commit_unknown = false;
        self.held.take().map(|held| held.claim)
    }
}

/// A claim and when it was last renewed, on this process's clock (taken before the renewing
/// statement was sent, so that it errs on the early side).
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) claim: Claim,
    pub(crate) renewed: Instant,
}

impl<S: Store, H: HandlerModel> EventHandler<S, H> {
    /// Makes sure this handler object may run `lane`: it holds the lane's claim (renewed when
    /// a third of the lease has passed) or takes it now. Returns `false` when another runner
    /// holds it. A handler whose bookmark is in memory needs no claim.
    ///
    /// # Errors
    /// [`Error::ClaimLost`] when the held claim was taken over (it is forgotten then); the
    /// store's errors.
    pub(crate) async fn hold(&self, lane: &Lane, state: &mut LaneState) -> Result<bool, Error> {
        let inner = &*self.inner;
        let settings = &inner.settings;
        if settings.bookmark_home == BookmarkHome::Memory {
            return Ok(true);
        }
        if let Some(held) = &state.held {
            if held.renewed.elapsed() < settings.renew_every() {
                return Ok(true);
            }
            let sent = Instant::now();
            return match inner.store.renew_claim(&held.claim, settings.lease).await {
                Ok(()) => {
                    state.renewed(sent);
                    Ok(true)
                }
                Err(error @ Error::ClaimLost { .. }) => {
                    state.drop_claim();
                    Err(error)
                }
                Err(error) => Err(error),
            };
        }
        let sent = Instant::now();
        let Some(claimed) = inner
            .store
            .claim(&lane.bookmark, &inner.owner, settings.lease)
            .await?
        else {
            return Ok(false);
        };
        // Whatever was cached belongs to an earlier claim: another runner may have moved the
        // bookmark since.
        state.position = None;
        state.claimed_bookmark = Some(claimed.bookmark);
        state.held = Some(Held {
            claim: claimed.claim,
            renewed: sent,
        });
        Ok(true)
    }
}

/// A claim owner name unique to one handler object: the process id, for the operator, and
/// 64 random bits, so that two objects (or a restarted process with a reused pid) never share
/// one.
pub(crate) fn new_owner() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // `RandomState` is seeded from the OS's randomness once per process, then stepped.
    let random = RandomState::new().hash_one((count, Instant::now()));
    format!("pid{}-{random:016x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::new_owner;

    #[test]
    fn owners_differ() {
        let owners: std::collections::HashSet<String> = (0..100).map(|_| new_owner()).collect();
        assert_eq!(owners.len(), 100);
        assert!(owners.iter().all(|owner| owner.len() < 64));
    }
}
