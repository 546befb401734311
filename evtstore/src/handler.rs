//! Event handlers: named readers that follow one or more streams in global order and remember
//! where they are with a bookmark.
//!
//! Each event is handled by the model the handler was built with, through the [`HandledBy`]
//! impl of its stream's event enum. The handler reads a page of events after its bookmark,
//! hands each to the model, and stores the bookmark after the page. While a page is handled the
//! next one is already being read.
//!
//! Delivery is at least once: a crash between handling an event and storing the bookmark
//! hands the event over again on restart, so a model should be idempotent (the event's
//! position, [`EventMeta::position`], is a natural idempotency key). The model's writes and the
//! bookmark are not in one transaction, so nothing here is exactly once. Runners of one
//! handler are excluded only as far as [`Store::lock_handler`] excludes them (within one
//! process for the stores of this workspace): run each handler in one process.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Mutex, watch};

use crate::aggregate::Aggregate;
use crate::domain::event_meta;
use crate::error::{BoxError, DecodeError, Error};
use crate::event::{Cursor, EventMeta, ReadRow, RecordedEvent, UnreadableRow, row_cursor};
use crate::runner::HandlerHandle;
use crate::store::Store;

/// What a handler method returns.
pub type HandlerResult = Result<(), BoxError>;

/// Dispatches the events of one stream to a handler model `H`.
///
/// Implemented on the event enum (not on the model) so that the impl generated in the user's
/// crate is allowed by the orphan rule. `#[derive(Aggregate)]` generates a handler trait with
/// one method per event and this impl for every model implementing it. By hand:
///
/// ```
/// # use evtstore::doc_fixtures::UserEvent;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use evtstore::{EventMeta, HandledBy, HandlerResult};
///
/// #[derive(Default)]
/// struct CreatedUsers(AtomicUsize);
///
/// impl HandledBy<CreatedUsers> for UserEvent {
///     async fn dispatch(
///         model: &CreatedUsers,
///         _aggregate_id: &str,
///         event: &Self,
///         _meta: &EventMeta,
///     ) -> HandlerResult {
///         if let UserEvent::Created { .. } = event {
///             model.0.fetch_add(1, Ordering::Relaxed);
///         }
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{H}` does not handle the events of `{Self}`",
    label = "`{H}` has no handler for this stream",
    note = "implement the handler trait generated for `{Self}` for `{H}`"
)]
pub trait HandledBy<H>: Aggregate {
    /// Hands one event to the model.
    fn dispatch(
        model: &H,
        aggregate_id: &str,
        event: &Self,
        meta: &EventMeta,
    ) -> impl Future<Output = HandlerResult> + Send;
}

/// How a handler starts and what it does with a failing event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandlerOptions {
    /// A handler without a stored bookmark starts at the end of its streams instead of their
    /// beginning, and stores that place at once.
    pub tail_stream: bool,
    /// Every start (and every start after [`EventHandler::reset`]) begins at the end of the
    /// streams, whatever the stored bookmark says.
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
enum BookmarkHome {
    #[default]
    Store,
    /// Only in this process: every new handler object starts from the beginning.
    Memory,
}

type BeforeBatch = Arc<dyn Fn() + Send + Sync>;
type AfterBatch = Arc<dyn Fn(BatchReport) + Send + Sync>;
type OnError = Arc<dyn Fn(&Error) + Send + Sync>;
type RouteFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
type RouteFn<H> =
    for<'a> fn(&'a H, &'a RouteContext<'a>, &'a mut Pending, &'a mut Progress) -> RouteFuture<'a>;

/// The events of a page still to be handled.
type Pending = std::iter::Peekable<std::vec::IntoIter<ReadRow>>;

/// What the routes need to know besides the model: who they handle for, and what to do with a
/// failing event.
struct RouteContext<'a> {
    bookmark: &'a str,
    continue_on_error: bool,
    report: &'a (dyn Fn(&Error) + Sync),
}

/// What handling a page has achieved so far.
#[derive(Debug, Default)]
struct Progress {
    /// The cursor of the last event dealt with (handled, or skipped after an error).
    reached: Cursor,
    /// How many events were handled without error.
    handled: usize,
    /// The error that stopped the page, if one did.
    failure: Option<Error>,
}

/// A stream the handler reads and how its events reach the model.
struct Route<H> {
    stream: &'static str,
    dispatch: RouteFn<H>,
}

/// Handles the events at the front of `pending` for as long as they belong to `E`'s stream.
/// One boxed future per run of events of a stream, not per event: catching up on one stream
/// allocates once per page.
fn route<'a, H, E: HandledBy<H>>(
    model: &'a H,
    context: &'a RouteContext<'a>,
    pending: &'a mut Pending,
    progress: &'a mut Progress,
) -> RouteFuture<'a>
where
    H: Sync,
{
    Box::pin(async move {
        while let Some(Ok(recorded)) =
            pending.next_if(|next| next.as_ref().is_ok_and(|next| next.stream == E::STREAM))
        {
            let cursor = recorded.cursor;
            match handle_one::<H, E>(model, context.bookmark, recorded).await {
                Ok(()) => progress.handled += 1,
                Err(error) if context.continue_on_error => (context.report)(&error),
                Err(error) => {
                    progress.failure = Some(error);
                    return;
                }
            }
            progress.reached = cursor;
        }
    })
}

/// Decodes an event of `E`'s stream and hands it to the model; the error names the handler,
/// the event and its type. This runs once per event, so it moves the record's strings into the
/// event's metadata instead of copying them.
async fn handle_one<H, E: HandledBy<H>>(
    model: &H,
    bookmark: &str,
    recorded: RecordedEvent,
) -> Result<(), Error>
where
    H: Sync,
{
    let failure = |error: DecodeError| {
        let (stream, aggregate_id, position, event_type) = match error {
            DecodeError::UnknownType {
                ref stream,
                ref aggregate_id,
                position,
                ref event_type,
                ..
            }
            | DecodeError::Malformed {
                ref stream,
                ref aggregate_id,
                position,
                ref event_type,
                ..
            } => (
                stream.clone(),
                aggregate_id.clone(),
                position,
                event_type.clone(),
            ),
            DecodeError::Snapshot {
                ref stream,
                ref aggregate_id,
                ..
            } => (stream.clone(), aggregate_id.clone(), 0, "?".to_owned()),
        };
        Error::Handler {
            bookmark: bookmark.to_owned(),
            stream,
            aggregate_id,
            position,
            event_type,
            source: Box::new(error),
        }
    };
    let event = E::decode(&recorded).map_err(failure)?;
    let meta = event_meta(E::STREAM, recorded).map_err(failure)?;
    E::dispatch(model, &meta.aggregate_id, &event, &meta)
        .await
        .map_err(|source| Error::Handler {
            bookmark: bookmark.to_owned(),
            stream: E::STREAM.to_owned(),
            aggregate_id: meta.aggregate_id.clone(),
            position: meta.cursor.position,
            event_type: event.event_type().to_owned(),
            source,
        })
}

/// The handler error for a row that cannot be read: it names the row like a failing event, so
/// that it is reported, and skipped under `continue_on_error`, the same way.
fn unreadable_row_error(bookmark: &str, unreadable: UnreadableRow) -> Error {
    Error::Handler {
        bookmark: bookmark.to_owned(),
        stream: unreadable.stream.clone().unwrap_or_else(|| "?".to_owned()),
        aggregate_id: unreadable
            .aggregate_id
            .clone()
            .unwrap_or_else(|| "?".to_owned()),
        position: unreadable.cursor.position,
        event_type: "?".to_owned(),
        source: Box::new(unreadable),
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

/// Builds an [`EventHandler`]: its streams, options and hooks. Made by [`Domain::handler`].
///
/// [`Domain::handler`]: crate::Domain::handler
pub struct HandlerBuilder<S, H> {
    store: S,
    bookmark: String,
    model: H,
    routes: Vec<Route<H>>,
    settings: Settings,
}

#[derive(Clone)]
struct Settings {
    options: HandlerOptions,
    page_size: usize,
    idle_poll: Duration,
    error_backoff: Duration,
    bookmark_home: BookmarkHome,
    before_batch: Option<BeforeBatch>,
    after_batch: Option<AfterBatch>,
    on_error: Option<OnError>,
}

impl<S, H> fmt::Debug for HandlerBuilder<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerBuilder")
            .field("bookmark", &self.bookmark)
            .field(
                "streams",
                &self.routes.iter().map(|r| r.stream).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl<S: Store, H: Send + Sync + 'static> HandlerBuilder<S, H> {
    pub(crate) fn new(store: S, bookmark: String, model: H) -> Self {
        HandlerBuilder {
            store,
            bookmark,
            model,
            routes: Vec::new(),
            settings: Settings {
                options: HandlerOptions::default(),
                page_size: 500,
                idle_poll: Duration::from_secs(1),
                error_backoff: Duration::from_secs(10),
                bookmark_home: BookmarkHome::Store,
                before_batch: None,
                after_batch: None,
                on_error: None,
            },
        }
    }

    /// Reads the stream of `E` and hands its events to the model. The model must handle `E`:
    /// a stream it does not implement is a compile error.
    #[must_use]
    pub fn stream<E: HandledBy<H>>(mut self) -> Self {
        let route = Route {
            stream: E::STREAM,
            dispatch: route::<H, E>,
        };
        match self
            .routes
            .iter_mut()
            .find(|known| known.stream == E::STREAM)
        {
            Some(known) => *known = route,
            None => self.routes.push(route),
        }
        self
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

    /// How long a started handler waits after finding no new event. Default 1 s.
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

    /// Keeps the bookmark only in this handler object: it starts at the beginning (or the
    /// end, when tailing) each time the program starts.
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
        EventHandler {
            inner: Arc::new(Inner {
                store: self.store,
                bookmark: self.bookmark,
                model: self.model,
                streams,
                routes: self.routes,
                settings: self.settings,
                position: Mutex::new(None),
            }),
        }
    }
}

/// A named reader of one or more streams. Cheap to clone; clones share the model and the
/// bookmark.
pub struct EventHandler<S, H> {
    inner: Arc<Inner<S, H>>,
}

struct Inner<S, H> {
    store: S,
    bookmark: String,
    model: H,
    streams: Vec<&'static str>,
    routes: Vec<Route<H>>,
    settings: Settings,
    /// The bookmark as last read or written; `None` until the first run and after `reset`.
    /// Holding the lock also keeps two runs of this handler from overlapping.
    position: Mutex<Option<Cursor>>,
}

impl<S, H> Clone for EventHandler<S, H> {
    fn clone(&self) -> Self {
        EventHandler {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S, H> fmt::Debug for EventHandler<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHandler")
            .field("bookmark", &self.inner.bookmark)
            .field("streams", &self.inner.streams)
            .field("options", &self.inner.settings.options)
            .finish_non_exhaustive()
    }
}

impl<S: Store, H: Send + Sync + 'static> EventHandler<S, H> {
    /// The bookmark name.
    pub fn bookmark(&self) -> &str {
        &self.inner.bookmark
    }

    /// The streams the handler reads, in registration order.
    pub fn streams(&self) -> &[&'static str] {
        &self.inner.streams
    }

    /// The model the events are handed to.
    pub fn model(&self) -> &H {
        &self.inner.model
    }

    /// Handles every event after the bookmark, page after page, until a read finds nothing
    /// new, and returns how many events were handled without error.
    ///
    /// # Errors
    /// [`Error::Handler`] for a failing event (unless `continue_on_error`), after storing the
    /// bookmark of the last event handled; [`Error::HandlerBusy`] when the handler is running
    /// elsewhere; the store's errors.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let _lock = self.inner.store.lock_handler(&self.inner.bookmark).await?;
        let (_, handled) = self.run_pages(None).await?;
        Ok(handled)
    }

    /// Forgets the cached bookmark: the next run reads it from the store again, and an
    /// `always_tail_stream` handler starts at the end again.
    pub async fn reset(&self) {
        *self.inner.position.lock().await = None;
    }

    /// Runs the handler in a tokio task until [`HandlerHandle::stop`]: after a run that found
    /// events it runs again at once, after an empty one it waits for the idle poll interval,
    /// after an error it reports it and waits for the error back-off.
    ///
    /// A panic of the model (or of a hook) during a run does not end the task: it is reported
    /// as [`Error::HandlerPanicked`] and treated as a failed run. The bookmark stays at the
    /// last page the handler finished, so the next run hands over again the events of the
    /// page that panicked.
    pub fn start(&self) -> HandlerHandle {
        let (stop_sender, stop) = watch::channel(false);
        let handler = self.clone();
        let task = tokio::spawn(async move { handler.run_until_stopped(stop).await });
        HandlerHandle::new(stop_sender, task)
    }

    async fn run_until_stopped(&self, mut stop: watch::Receiver<bool>) {
        let settings = &self.inner.settings;
        let mut lock = None;
        while !*stop.borrow() {
            let pause = if lock.is_none() {
                match self.inner.store.lock_handler(&self.inner.bookmark).await {
                    Ok(acquired) => {
                        lock = Some(acquired);
                        continue;
                    }
                    Err(error) => {
                        self.report(&error);
                        settings.error_backoff
                    }
                }
            } else {
                match self.run_catching_panics(&stop).await {
                    Ok((0, _)) => settings.idle_poll,
                    Ok(_) => continue,
                    Err(error) => {
                        self.report(&error);
                        settings.error_backoff
                    }
                }
            };
            // Sleep, but wake at once on stop.
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }

    fn report(&self, error: &Error) {
        match &self.inner.settings.on_error {
            Some(hook) => hook(error),
            None => tracing::error!(bookmark = %self.inner.bookmark, %error, "event handler error"),
        }
    }

    /// One run of a started handler, with a panic turned into [`Error::HandlerPanicked`]: a bug
    /// in one model must not silently end a background task that nobody awaits.
    async fn run_catching_panics(
        &self,
        stop: &watch::Receiver<bool>,
    ) -> Result<(usize, usize), Error> {
        // Unwind safety: what the run leaves behind is the cached bookmark, moved only after a
        // page is finished, and its tokio mutex, which unwinding releases without poisoning.
        // The model's state after its own panic is the model's concern, as after an error.
        let caught = AssertUnwindSafe(self.run_pages(Some(stop)))
            .catch_unwind()
            .await;
        let message = match caught {
            Ok(outcome) => return outcome,
            Err(panic) => panic_message(&*panic),
        };
        // A run stores each page's bookmark while it handles the next page: store the place of
        // the last page finished, whose write the panic may have cut short, so that a handler
        // stopped now does not hand that page over again.
        let reached = *self.inner.position.lock().await;
        if let Some(cursor) = reached
            && let Err(error) = self.store_bookmark(cursor).await
        {
            self.report(&error);
        }
        Err(Error::HandlerPanicked {
            bookmark: self.inner.bookmark.clone(),
            message,
        })
    }

    /// Reads and handles pages until one is empty or `stop` is set; returns (fetched, handled).
    async fn run_pages(
        &self,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<(usize, usize), Error> {
        let inner = &*self.inner;
        let settings = &inner.settings;
        let mut position = inner.position.lock().await;
        let mut cursor = match *position {
            Some(cursor) => cursor,
            None => self.starting_cursor().await?,
        };
        *position = Some(cursor);
        let (mut fetched, mut handled) = (0, 0);
        // The bookmark of the last page handled, written while the next page is handled so
        // that catching up does not wait for one bookmark write per page.
        let mut unwritten = None;
        let mut page = inner
            .store
            .read(&inner.streams, cursor, settings.page_size)
            .await?;
        while !page.is_empty() {
            if let Some(hook) = &settings.before_batch {
                hook();
            }
            let last = row_cursor(&page[page.len() - 1]);
            let page_len = page.len();
            // Read the next page while this one is handled: catching up costs one round trip
            // per page less.
            let (outcome, next, written) = tokio::join!(
                self.handle_page(page),
                inner.store.read(&inner.streams, last, settings.page_size),
                self.write_bookmark(unwritten.take()),
            );
            let Progress {
                reached,
                handled: page_handled,
                failure,
            } = outcome;
            fetched += page_len;
            handled += page_handled;
            if reached > cursor {
                cursor = reached;
                *position = Some(cursor);
                unwritten = Some(cursor);
            }
            if let Some(hook) = &settings.after_batch {
                hook(BatchReport {
                    fetched: page_len,
                    handled: page_handled,
                });
            }
            let stopped = stop.is_some_and(|stop| *stop.borrow());
            // Whatever ends the run, the bookmark of what was handled is stored first.
            let ended = match (written, failure, next) {
                (Err(error), _, _) | (_, Some(error), _) | (_, _, Err(error)) => Err(error),
                (Ok(()), None, Ok(_)) if stopped => Ok(()),
                (Ok(()), None, Ok(next)) => {
                    page = next;
                    continue;
                }
            };
            let stored = self.write_bookmark(unwritten.take()).await;
            // The error that ended the run explains more than a failed bookmark write after it.
            return ended.and(stored).map(|()| (fetched, handled));
        }
        self.write_bookmark(unwritten).await?;
        Ok((fetched, handled))
    }

    /// Stores the bookmark when there is one to store.
    async fn write_bookmark(&self, cursor: Option<Cursor>) -> Result<(), Error> {
        match cursor {
            Some(cursor) => self.store_bookmark(cursor).await,
            None => Ok(()),
        }
    }

    /// Handles one page, stream run by stream run; stops at the first failing event unless
    /// `continue_on_error`.
    async fn handle_page(&self, page: Vec<ReadRow>) -> Progress {
        let inner = &*self.inner;
        let report = |error: &Error| self.report(error);
        let context = RouteContext {
            bookmark: &inner.bookmark,
            continue_on_error: inner.settings.options.continue_on_error,
            report: &report,
        };
        let mut pending = page.into_iter().peekable();
        let mut progress = Progress::default();
        while let Some(next) = pending.peek() {
            let next = match next {
                Ok(next) => next,
                Err(_) => {
                    if let Some(Err(unreadable)) = pending.next() {
                        let cursor = unreadable.cursor;
                        let error = unreadable_row_error(&inner.bookmark, unreadable);
                        if !context.continue_on_error {
                            progress.failure = Some(error);
                            break;
                        }
                        report(&error);
                        progress.reached = cursor;
                    }
                    continue;
                }
            };
            match inner
                .routes
                .iter()
                .find(|route| route.stream == next.stream)
            {
                Some(route) => {
                    (route.dispatch)(&inner.model, &context, &mut pending, &mut progress).await;
                }
                None => {
                    // A store returned a stream that was not asked for; nothing handles it.
                    progress.reached = next.cursor;
                    pending.next();
                }
            }
            if progress.failure.is_some() {
                break;
            }
        }
        progress
    }

    /// Where a run starts when no bookmark is cached.
    async fn starting_cursor(&self) -> Result<Cursor, Error> {
        let inner = &*self.inner;
        let options = inner.settings.options;
        if options.always_tail_stream {
            return inner.store.last_cursor(&inner.streams).await;
        }
        let stored = match inner.settings.bookmark_home {
            BookmarkHome::Store => inner.store.bookmark(&inner.bookmark).await?,
            BookmarkHome::Memory => None,
        };
        match stored {
            Some(cursor) => Ok(cursor),
            None if options.tail_stream => {
                let last = inner.store.last_cursor(&inner.streams).await?;
                // Store the starting place at once: a restart before the first event must not
                // jump ahead again past events that arrived in between.
                self.store_bookmark(last).await?;
                Ok(last)
            }
            None => Ok(Cursor::START),
        }
    }

    async fn store_bookmark(&self, cursor: Cursor) -> Result<(), Error> {
        match self.inner.settings.bookmark_home {
            BookmarkHome::Store => {
                self.inner
                    .store
                    .set_bookmark(&self.inner.bookmark, cursor)
                    .await
            }
            BookmarkHome::Memory => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use crate::doc_fixtures::{UserCommand, UserCommands, UserEvent};
    use crate::{Domain, Error, EventMeta, HandledBy, HandlerResult, MemoryStore, Store};

    /// A model that panics the first time it is handed user `b`, and handles every other event.
    #[derive(Default)]
    struct PanicsOnB {
        panicked: AtomicBool,
        handled: Mutex<Vec<String>>,
    }

    impl HandledBy<PanicsOnB> for UserEvent {
        async fn dispatch(model: &PanicsOnB, id: &str, _: &Self, _: &EventMeta) -> HandlerResult {
            if id == "b" && !model.panicked.swap(true, Ordering::SeqCst) {
                panic!("model bug on {id}");
            }
            model.handled.lock().unwrap().push(id.to_owned());
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn started_handler_reports_a_panic_and_keeps_running() {
        let domain = Domain::new(MemoryStore::new());
        let users = domain.commands(UserCommands);
        for id in ["a", "b", "c"] {
            let create = UserCommand::Create { name: id.into() };
            users.execute(id, &create).await.unwrap();
        }
        let reports = Arc::new(Mutex::new(Vec::new()));
        let reported = Arc::clone(&reports);
        let handler = domain
            .handler("panicky", PanicsOnB::default())
            .stream::<UserEvent>()
            .page_size(1)
            .idle_poll(Duration::from_millis(5))
            .error_backoff(Duration::from_millis(5))
            .on_error(move |error| {
                let panicked = matches!(error, Error::HandlerPanicked { bookmark, .. }
                    if bookmark == "panicky");
                reported.lock().unwrap().push((panicked, error.to_string()));
            })
            .build();
        let running = handler.start();
        for _ in 0..1000 {
            if handler.model().handled.lock().unwrap().len() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(running.is_running());
        // `stop` re-raises a panic that ended the task.
        running.stop().await;
        assert_eq!(
            *reports.lock().unwrap(),
            [(
                true,
                "handler `panicky` panicked: model bug on b".to_owned()
            )]
        );
        // The run resumed after `a`, whose page was finished before the panic: `a` was handed
        // over once, `b` again after the panic, then `c`.
        assert_eq!(*handler.model().handled.lock().unwrap(), ["a", "b", "c"]);
        let store = domain.store();
        let last = store.last_cursor(&["users"]).await.unwrap();
        assert_eq!(store.bookmark("panicky").await.unwrap(), Some(last));
    }
}
