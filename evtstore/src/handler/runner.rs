//! A handler running in the background: one loop per lane that claims it, runs it, renews
//! the claim while idle and lets it go on stop; and the handle that stops it.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::handler::lane::{Lane, LaneState};
use crate::handler::model::HandlerModel;
use crate::handler::{BookmarkHome, EventHandler};
use crate::store::Store;
use crate::wakeup::{WakeupReceiver, Wakeups};

/// A handler started with [`EventHandler::start`](crate::EventHandler::start).
///
/// Dropping the handle leaves the handler running; call [`stop`](Self::stop) to end it.
#[derive(Debug)]
pub struct HandlerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl HandlerHandle {
    pub(crate) fn new(stop: watch::Sender<bool>, task: JoinHandle<()>) -> Self {
        HandlerHandle { stop, task }
    }

    /// Whether the background task is still running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the handler: it finishes the page in flight, stores its bookmark, lets its claims
    /// go, and ends. Returns once it has ended. A runner standing by takes the claim at once
    /// when it runs on the same store object, or on PostgreSQL in any process (the bookmarks
    /// table's trigger notifies it, [`Store::claim_releases`]); otherwise (SQLite and MySQL
    /// across processes) at its next claim poll (the idle poll, at most a third of the
    /// lease). Never does it wait for the lease to run out.
    ///
    /// Wired to Ctrl-C (and, in a service, SIGTERM), so that a deploy hands the handler over
    /// without waiting for the lease and without handling a page twice:
    ///
    /// ```no_run
    /// # use evtstore::doc_fixtures::UserEvent;
    /// # use evtstore::{EventMeta, HandledBy, HandlerResult};
    /// # struct Names;
    /// # impl HandledBy<Names> for UserEvent {
    /// #     async fn dispatch(_: &Names, _: &str, _: &Self, _: &EventMeta) -> HandlerResult { Ok(()) }
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let domain = evtstore::Domain::new(evtstore::MemoryStore::new());
    /// let names = domain.handler("names", Names).stream::<UserEvent>().build();
    /// let running = names.start();
    /// tokio::signal::ctrl_c().await.expect("cannot listen for Ctrl-C");
    /// running.stop().await; // the page in flight is finished and its bookmark stored
    /// # });
    /// ```
    ///
    /// A panic of the model does not end the task (it is reported through the error hook as
    /// [`Error::HandlerPanicked`](crate::Error::HandlerPanicked)); a panic that did end it, such
    /// as one in the error hook itself, is raised again here.
    pub async fn stop(self) {
        // Sending fails only when the task has already ended, which is what stop wants.
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

impl<S: Store, H: HandlerModel> EventHandler<S, H> {
    /// Runs the handler in a tokio task until [`HandlerHandle::stop`]. Each lane (the handler,
    /// or each of its segments) is claimed and run on its own: after a run that found events it
    /// runs again at once, after an empty one it waits for the idle poll interval, after an
    /// error it reports it and waits for the error back-off. While it waits it renews its
    /// claim. A lane another runner holds is tried again every claim poll (the idle poll, at
    /// most a third of the lease), so that it is taken over within the lease and one poll of
    /// its holder's death. On stop each claim is let go at once.
    ///
    /// A panic of the model (or of a hook) during a run does not end the task: it is reported
    /// as [`Error::HandlerPanicked`] and treated as a failed run. The bookmark stays at the
    /// last page the handler finished, so the next run hands over again the events of the
    /// page that panicked. Start a handler object once; more runners are more handler objects
    /// (in this process or others).
    pub fn start(&self) -> HandlerHandle {
        let (stop_sender, stop) = watch::channel(false);
        let handler = self.clone();
        let task = tokio::spawn(async move {
            let lanes = handler
                .inner
                .lanes
                .iter()
                .map(|lane| handler.run_lane_until_stopped(lane, stop.clone()));
            join_all(lanes).await;
        });
        HandlerHandle::new(stop_sender, task)
    }

    async fn run_lane_until_stopped(&self, lane: &Lane, mut stop: watch::Receiver<bool>) {
        let mut next_run = Instant::now();
        let mut backing_off = false;
        // Subscribed before the first run: an append during any run wakes the next wait.
        let mut wakeups = self.inner.store.wakeups().map(Wakeups::subscribe);
        let mut releases = self.inner.store.claim_releases().map(Wakeups::subscribe);
        while !*stop.borrow() {
            let wake = {
                let mut state = lane.state.lock().await;
                self.wake(lane, &mut state, &stop, &mut next_run, &mut backing_off)
                    .await
            };
            // Sleep, but wake at once on stop, and on an append when the lane is ready to run
            // (a runner backing off after an error, or standing by for a claim another runner
            // holds, keeps its own pace: a busy stream must not turn it into a hot loop).
            let ready = wake.holding && !wake.backing_off;
            tokio::select! {
                () = tokio::time::sleep_until(wake.at.into()) => {}
                _ = stop.changed() => {}
                () = woken(wakeups.as_mut()), if ready => next_run = Instant::now(),
                // A claim let go: a runner standing by tries to take it now.
                () = woken(releases.as_mut()), if !wake.holding => {}
            }
        }
        // Hand over at once instead of making the next runner wait for the lease.
        let mut state = lane.state.lock().await;
        if let Some(claim) = state.drop_claim()
            && let Err(error) = self.inner.store.release_claim(&claim).await
        {
            self.report(&error);
        }
        self.give_slot(lane);
    }

    /// One wake-up of a lane's runner: keeps or takes the claim and, when due, runs the lane.
    /// Returns when to wake next.
    async fn wake(
        &self,
        lane: &Lane,
        state: &mut LaneState,
        stop: &watch::Receiver<bool>,
        next_run: &mut Instant,
        backing_off: &mut bool,
    ) -> Wake {
        let at = self.wake_at(lane, state, stop, next_run, backing_off).await;
        let claims = self.inner.settings.bookmark_home == BookmarkHome::Store;
        Wake {
            at,
            holding: !claims || state.held.is_some(),
            backing_off: *backing_off,
        }
    }

    /// [`wake`](Self::wake)'s work: when to wake next; `backing_off` tells whether the next
    /// run waits out an error back-off.
    async fn wake_at(
        &self,
        lane: &Lane,
        state: &mut LaneState,
        stop: &watch::Receiver<bool>,
        next_run: &mut Instant,
        backing_off: &mut bool,
    ) -> Instant {
        let settings = &self.inner.settings;
        let claims = settings.bookmark_home == BookmarkHome::Store;
        if claims && state.held.is_none() && !self.take_slot(lane) {
            return Instant::now() + settings.claim_poll();
        }
        match self.hold(lane, state).await {
            Ok(true) => {}
            Ok(false) => {
                self.give_slot(lane);
                return Instant::now() + settings.claim_poll();
            }
            Err(error) => {
                self.report(&error);
                if state.held.is_none() {
                    self.give_slot(lane);
                }
                // Try again soon: a renewal that failed for a passing reason must be retried
                // well before the lease runs out.
                return Instant::now() + settings.claim_poll();
            }
        }
        if Instant::now() < *next_run {
            return renewal_due(state, settings.renew_every(), *next_run);
        }
        *backing_off = false;
        let pause = match self.run_catching_panics(lane, state, stop).await {
            Ok((0, _)) => settings.idle_poll,
            Ok(_) => Duration::ZERO,
            Err(error) => {
                *backing_off = true;
                self.report(&error);
                if claims && state.held.is_none() {
                    // The claim was taken over: stand by like any other runner.
                    self.give_slot(lane);
                    return Instant::now() + settings.claim_poll();
                }
                settings.error_backoff
            }
        };
        *next_run = Instant::now() + pause;
        renewal_due(state, settings.renew_every(), *next_run)
    }

    /// Reserves one of the handler's [`max_claimed_segments`](crate::HandlerBuilder::max_claimed_segments)
    /// slots for `lane`; `false` when all are in use by other lanes.
    fn take_slot(&self, lane: &Lane) -> bool {
        if lane.has_slot.load(Ordering::Acquire) {
            return true;
        }
        let max = self.inner.settings.max_claimed_segments;
        let taken = self
            .inner
            .slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < max).then_some(used + 1)
            })
            .is_ok();
        if taken {
            lane.has_slot.store(true, Ordering::Release);
        }
        taken
    }

    fn give_slot(&self, lane: &Lane) {
        if lane.has_slot.swap(false, Ordering::AcqRel) {
            self.inner.slots.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// One run of a started lane, with a panic turned into [`Error::HandlerPanicked`]: a bug
    /// in one model must not silently end a background task that nobody awaits.
    async fn run_catching_panics(
        &self,
        lane: &Lane,
        state: &mut LaneState,
        stop: &watch::Receiver<bool>,
    ) -> Result<(usize, usize), Error> {
        // Unwind safety: what the run leaves behind is the lane's cached position, moved only
        // after a page is finished, and a projection's transaction, which unwinding drops and so
        // rolls back. The model's state after its own panic is the model's concern, as after an
        // error.
        let caught = AssertUnwindSafe(self.run_pages(lane, state, Some(stop)))
            .catch_unwind()
            .await;
        let message = match caught {
            Ok(outcome) => return outcome,
            Err(panic) => panic_message(&*panic),
        };
        // A plain run stores each page's bookmark while it handles the next page: store the
        // place of the last page finished, whose write the panic may have cut short, so that a
        // handler stopped now does not hand that page over again. (A projection's pages are
        // committed with their bookmark; the position is already stored.)
        if !self.inner.transactional
            && let Some(cursor) = state.position
        {
            let claim = state.claim().cloned();
            match self.write_bookmark(claim.as_ref(), Some(cursor)).await {
                Ok(_) => {}
                Err(error) => {
                    if let Error::ClaimLost { .. } = error {
                        state.drop_claim();
                    }
                    self.report(&error);
                }
            }
        }
        Err(Error::HandlerPanicked {
            bookmark: lane.bookmark.clone(),
            message,
        })
    }
}

/// What a lane's runner does next: wake at `at`, unless a wake-up comes first and the lane is
/// ready for it.
struct Wake {
    at: Instant,
    /// Whether the lane may run now: it holds its claim (or needs none).
    holding: bool,
    /// Whether the next run waits out an error back-off.
    backing_off: bool,
}

/// Waits for a wake-up of the store, forever when it sends none.
async fn woken(wakeups: Option<&mut WakeupReceiver>) {
    match wakeups {
        Some(wakeups) => wakeups.woken().await,
        None => std::future::pending().await,
    }
}

/// When a runner must wake: at `next_run`, or earlier to renew the claim it holds.
fn renewal_due(state: &LaneState, renew_every: Duration, next_run: Instant) -> Instant {
    match &state.held {
        Some(held) => next_run.min(held.renewed + renew_every),
        None => next_run,
    }
}

/// The message of a panic: what `panic!` was given when it was a string, as it almost always
/// is.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(message), _) => (*message).to_owned(),
        (None, Some(message)) => message.clone(),
        (None, None) => "a panic without a message".to_owned(),
    }
}
