//! The handler builder: streams, options, segments, claims and hooks.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use crate::error::Error;
use crate::handler::dispatch::{HandledBy, ProjectedBy, Route, project_route, route};
use crate::handler::lane::{Lane, new_owner};
use crate::handler::model::HandlerModel;
use crate::handler::segment::Segment;
use crate::handler::{EventHandler, Inner};
use crate::store::Store;

/// How a handler starts and what it does with a failing event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandlerOptions {
    /// A handler without a stored bookmark starts at the end of its streams instead of their
    /// beginning, and stores that place at once.
    pub tail_stream: bool,
    /// The first run of a handler object (and the first after [`EventHandler::reset`]) begins
    /// at the end of the streams, whatever the stored bookmark says, and stores that place; a
    /// later run of the same object, or another process taking over, resumes from the stored
    /// bookmark.
    pub always_tail_stream: bool,
    /// A failing event is reported (through the error hook) and skipped. Without it the run
    /// stops with the error and the bookmark stays before the failing event.
    pub continue_on_error: bool,
}

/// What one batch did, given to the after-batch hook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// How many events were read.
    pub fetched: usize,
    /// How many of them were handled without error.
    pub handled: usize,
}

/// Where a handler keeps its bookmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum BookmarkHome {
    #[default]
    Store,
    /// Only in this process: every new handler object starts from the beginning, and every
    /// process runs its own (no claim).
    Memory,
}

pub(crate) type BeforeBatch = Arc<dyn Fn() + Send + Sync>;
pub(crate) type AfterBatch = Arc<dyn Fn(BatchReport) + Send + Sync>;
pub(crate) type OnError = Arc<dyn Fn(&Error) + Send + Sync>;

/// The default lease of a claim: a runner that stops renewing it (killed, cut off) is replaced
/// this long after its last renewal, plus up to one claim poll.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// How often a plain handler catching up stores its bookmark by default: see
/// [`HandlerBuilder::bookmark_every`].
pub const DEFAULT_BOOKMARK_EVERY: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) options: HandlerOptions,
    pub(crate) page_size: usize,
    pub(crate) idle_poll: Duration,
    pub(crate) error_backoff: Duration,
    pub(crate) lease: Duration,
    pub(crate) bookmark_every: Duration,
    pub(crate) bookmark_home: BookmarkHome,
    pub(crate) max_claimed_segments: usize,
    pub(crate) before_batch: Option<BeforeBatch>,
    pub(crate) after_batch: Option<AfterBatch>,
    pub(crate) on_error: Option<OnError>,
}

impl Settings {
    /// How often a runner holding a claim renews it: three times per lease, so that one slow
    /// renewal does not lose it.
    pub(crate) fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    /// How long a started runner waits before trying again to claim a lane held elsewhere:
    /// the idle poll, but never so long that the lease would run out first.
    pub(crate) fn claim_poll(&self) -> Duration {
        self.idle_poll.min(self.renew_every())
    }
}

/// Builds an [`EventHandler`]: its streams, options and hooks. Made by [`Domain::handler`].
///
/// [`Domain::handler`]: crate::Domain::handler
pub struct HandlerBuilder<S: Store, H> {
    store: S,
    name: String,
    model: H,
    routes: Vec<Route<S, H>>,
    segments: u32,
    settings: Settings,
}

impl<S: Store, H> fmt::Debug for HandlerBuilder<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerBuilder")
            .field("bookmark", &self.name)
            .field(
                "streams",
                &self.routes.iter().map(|r| r.stream).collect::<Vec<_>>(),
            )
            .field("segments", &self.segments)
            .finish_non_exhaustive()
    }
}

impl<S: Store> crate::domain::Domain<S> {
    /// Starts building an event handler whose bookmark is stored under `bookmark`, with `model`
    /// receiving the events.
    pub fn handler<H>(&self, bookmark: impl Into<String>, model: H) -> HandlerBuilder<S, H> {
        HandlerBuilder::new(self.store.clone(), bookmark.into(), model)
    }
}

// No bound on the model here: a model that is not a `HandlerModel` is reported once, where it
// implements its handler trait and where a stream is registered, not at every builder call.
impl<S: Store, H> HandlerBuilder<S, H> {
    pub(crate) fn new(store: S, name: String, model: H) -> Self {
        HandlerBuilder {
            store,
            name,
            model,
            routes: Vec::new(),
            segments: 1,
            settings: Settings {
                options: HandlerOptions::default(),
                page_size: 500,
                idle_poll: Duration::from_secs(1),
                error_backoff: Duration::from_secs(10),
                lease: DEFAULT_LEASE,
                bookmark_every: DEFAULT_BOOKMARK_EVERY,
                bookmark_home: BookmarkHome::Store,
                max_claimed_segments: usize::MAX,
                before_batch: None,
                after_batch: None,
                on_error: None,
            },
        }
    }

    fn add_route(mut self, route: Route<S, H>) -> Self {
        match self
            .routes
            .iter_mut()
            .find(|known| known.stream == route.stream)
        {
            Some(known) => *known = route,
            None => self.routes.push(route),
        }
        self
    }

    /// Reads the stream of `E` and hands its events to the model. The model must handle `E`:
    /// a stream it does not implement is a compile error.
    ///
    /// Delivery is at least once: a crash after the model handled an event and before the
    /// bookmark was stored hands the event over again.
    #[must_use]
    pub fn stream<E: HandledBy<H>>(self) -> Self
    where
        H: HandlerModel,
    {
        self.add_route(Route {
            stream: E::STREAM,
            dispatch: route::<S, H, E>,
            transactional: false,
        })
    }

    /// Reads the stream of `E` and projects its events in the store's transaction: each page
    /// is handled in one transaction ([`Store::Transaction`], the backend's
    /// `sqlx::Transaction` on the SQL stores) that also moves the bookmark, so the model's
    /// writes through it are applied exactly once per event, whatever crashes. The model must
    /// project `E` on this store: anything else is a compile error.
    ///
    /// What the model does outside the transaction (a message sent, a file written) stays at
    /// least once: use the event's position ([`EventMeta::position`](crate::EventMeta)) as
    /// an idempotency key. With [`HandlerOptions::continue_on_error`] each event runs in a
    /// savepoint of its own, so that a failing event's writes are undone alone (two more
    /// statements per event); without it, a failing event rolls its page back and the events
    /// before it are projected again in a new transaction, so the bookmark stays just before
    /// the failing event.
    #[must_use]
    pub fn project<E: ProjectedBy<H, S::Transaction>>(self) -> Self
    where
        H: HandlerModel,
    {
        self.add_route(Route {
            stream: E::STREAM,
            dispatch: project_route::<S, H, E>,
            transactional: true,
        })
    }

    /// Sets the start and error options.
    #[must_use]
    pub fn options(mut self, options: HandlerOptions) -> Self {
        self.settings.options = options;
        self
    }

    /// How many events one read returns at most. Default 500; 0 is taken as 1.
    #[must_use]
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.settings.page_size = page_size.max(1);
        self
    }

    /// How long a started handler waits after finding no new event, and between attempts to
    /// claim a handler that runs elsewhere. Default 1 s.
    #[must_use]
    pub fn idle_poll(mut self, interval: Duration) -> Self {
        self.settings.idle_poll = interval;
        self
    }

    /// How long a started handler waits after a failed run. Default 10 s.
    #[must_use]
    pub fn error_backoff(mut self, interval: Duration) -> Self {
        self.settings.error_backoff = interval;
        self
    }

    /// How long a claim lasts without renewal: a runner renews it once a third of the lease
    /// has passed (before each page, and while idle), and when it dies another process takes
    /// the handler over this long after the last renewal (plus up to one claim poll). Default
    /// [`DEFAULT_LEASE`], 10 s; at least 3 ms, at most [`MAX_LEASE`](crate::MAX_LEASE). A page
    /// must be handled within two thirds of the lease: a runner that takes longer may lose its
    /// claim, and then its bookmark write (and its projection's commit) is refused and the page
    /// is handled again by the new holder.
    ///
    /// On SQLite a projection's page holds the database's write lock from its first write to
    /// its commit (`BEGIN IMMEDIATE`): other processes' appends and renewals wait for it (up to
    /// the busy timeout, 10 s), so keep projection pages short there.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.settings.lease = lease.clamp(Duration::from_millis(3), crate::store::MAX_LEASE);
        self
    }

    /// How often a plain handler (one that is not a [`project`](Self::project)ion) stores its
    /// bookmark while it catches up: after a page, once this long has passed since the last
    /// write. A run always stores it when it ends (caught up, stopped or failed), so a handler
    /// that keeps up stores it after every batch. Default [`DEFAULT_BOOKMARK_EVERY`], 250 ms;
    /// `Duration::ZERO` stores it after every page.
    ///
    /// Why not after every page: each write is a statement and a commit, a round trip and
    /// server work that compete with the reads. Catching up on PostgreSQL and MariaDB in pages
    /// of 500, those writes took about 35% of the time (see `BENCHMARKS.md`, "Catch-up at the
    /// read limit"). What a longer interval costs is only after a crash:
    /// delivery is at least once, and a process taking over hands again the events handled
    /// since the last write, at most this long's worth.
    #[must_use]
    pub fn bookmark_every(mut self, interval: Duration) -> Self {
        self.settings.bookmark_every = interval;
        self
    }

    /// Splits the handler into `count` segments by a stable hash of the aggregate id
    /// ([`Segment`]): each has its own claim and bookmark (`name#index/count`), so that up to
    /// `count` processes share the work, and the events of one aggregate are always handled by
    /// one of them, in order. Every segment reads all events of the streams and skips those of
    /// other segments. Default 1 (unsplit; the bookmark is `name`). 0 is taken as 1.
    #[must_use]
    pub fn segments(mut self, count: u32) -> Self {
        self.segments = count.max(1);
        self
    }

    /// At most how many segments a started handler runs in this process at once: with 4
    /// segments and 2 per process, two processes share the work and a third stands by to take
    /// over. Default: all of them. 0 is taken as 1.
    #[must_use]
    pub fn max_claimed_segments(mut self, count: usize) -> Self {
        self.settings.max_claimed_segments = count.max(1);
        self
    }

    /// Keeps the bookmark only in this handler object: it starts at the beginning (or the
    /// end, when tailing) each time the program starts. Such a handler takes no claim: every
    /// process runs its own.
    #[must_use]
    pub fn bookmark_in_memory(mut self) -> Self {
        self.settings.bookmark_home = BookmarkHome::Memory;
        self
    }

    /// Called before each batch is read.
    #[must_use]
    pub fn before_batch(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.settings.before_batch = Some(Arc::new(hook));
        self
    }

    /// Called after each batch with what it did.
    #[must_use]
    pub fn after_batch(mut self, hook: impl Fn(BatchReport) + Send + Sync + 'static) -> Self {
        self.settings.after_batch = Some(Arc::new(hook));
        self
    }

    /// Called with every error the handler reports instead of returning: events skipped under
    /// `continue_on_error`, and failed runs of a started handler. Without it they are logged
    /// with `tracing`.
    #[must_use]
    pub fn on_error(mut self, hook: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.settings.on_error = Some(Arc::new(hook));
        self
    }

    /// Builds the handler.
    #[must_use]
    pub fn build(self) -> EventHandler<S, H> {
        let streams = self.routes.iter().map(|route| route.stream).collect();
        let transactional = self.routes.iter().any(|route| route.transactional);
        let lanes = if self.segments == 1 {
            vec![Lane::new(self.name.clone(), None)]
        } else {
            (0..self.segments)
                .filter_map(|index| Segment::new(index, self.segments))
                .map(|segment| Lane::new(segment.bookmark(&self.name), Some(segment)))
                .collect()
        };
        EventHandler::from_inner(Inner {
            store: self.store,
            name: self.name,
            owner: new_owner(),
            model: self.model,
            streams,
            routes: self.routes,
            transactional,
            settings: self.settings,
            lanes,
            slots: AtomicUsize::new(0),
        })
    }
}
