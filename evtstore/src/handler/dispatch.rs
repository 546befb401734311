//! How an event reaches a model: the dispatch traits the derive implements, and the routes
//! that hand a page's events, stream run by stream run, to them.

use std::future::Future;
use std::pin::Pin;

use crate::aggregate::{Aggregate, EventAt};
use crate::error::{BoxError, DecodeError, Error};
use crate::event::{Cursor, EventMeta, UnreadableRow, event_meta_of_row};
use crate::handler::segment::Segment;
use crate::page::{EventRow, PageRows};
use crate::store::Store;
use crate::upcast::{Decoded, decode_upcast};

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

/// Dispatches the events of one stream to a transactional projection `H`, with the store's
/// open transaction `Tx` ([`Store::Transaction`]): what the model writes through it commits
/// together with the handler's bookmark, so that the read model is updated exactly once per
/// event, whatever crashes.
///
/// `#[derive(Aggregate)]` generates a projection trait with one method per event, each given
/// the transaction, and this impl for every model implementing it. By hand, for the
/// [`MemoryStore`](crate::MemoryStore), whose transaction collects effects that run when the
/// page commits (on a SQL store `Tx` is `sqlx::Transaction<'static, DB>`, written to with
/// `.execute(&mut **transaction)`):
///
/// ```
/// # use evtstore::doc_fixtures::UserEvent;
/// use std::sync::{Arc, Mutex};
/// use evtstore::{EventMeta, HandlerResult, MemoryTransaction, ProjectedBy};
///
/// #[derive(Default)]
/// struct UserNames(Arc<Mutex<Vec<String>>>);
///
/// impl ProjectedBy<UserNames, MemoryTransaction> for UserEvent {
///     async fn project(
///         model: &UserNames,
///         transaction: &mut MemoryTransaction,
///         _aggregate_id: &str,
///         event: &Self,
///         _meta: &EventMeta,
///     ) -> HandlerResult {
///         if let UserEvent::Created { name } = event {
///             let (names, name) = (Arc::clone(&model.0), name.clone());
///             transaction.on_commit(move || names.lock().unwrap().push(name));
///         }
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{H}` does not project the events of `{Self}` in a `{Tx}`",
    label = "`{H}` has no projection for this stream on this store",
    note = "implement the projection trait generated for `{Self}` for `{H}`, with the store's \
            transaction type"
)]
pub trait ProjectedBy<H, Tx>: Aggregate {
    /// Hands one event to the model, with the page's transaction.
    fn project(
        model: &H,
        transaction: &mut Tx,
        aggregate_id: &str,
        event: &Self,
        meta: &EventMeta,
    ) -> impl Future<Output = HandlerResult> + Send;
}

pub(crate) type RouteFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A route's entry point: the model, what the route needs to know, the page's rows still to
/// be handled, what was achieved so far, and the page's transaction when the handler runs
/// pages in one.
pub(crate) type RouteFn<S, H> = for<'a> fn(
    &'a H,
    &'a RouteContext<'a, S>,
    &'a mut Pending,
    &'a mut Progress,
    Option<&'a mut <S as Store>::Transaction>,
) -> RouteFuture<'a>;

/// The events of a page still to be handled.
pub(crate) type Pending = PageRows;

/// A stream the handler reads and how its events reach the model.
pub(crate) struct Route<S: Store, H> {
    pub(crate) stream: &'static str,
    pub(crate) dispatch: RouteFn<S, H>,
    /// Whether the route writes through the page's transaction.
    pub(crate) transactional: bool,
}

/// What the routes need to know besides the model: who they handle for, which segment, and
/// what to do with a failing event.
pub(crate) struct RouteContext<'a, S> {
    pub(crate) store: &'a S,
    pub(crate) bookmark: &'a str,
    pub(crate) segment: Option<Segment>,
    pub(crate) continue_on_error: bool,
    pub(crate) report: &'a (dyn Fn(&Error) + Sync),
}

impl<S> RouteContext<'_, S> {
    /// Whether this lane handles the events of `aggregate_id`.
    fn owns(&self, aggregate_id: &str) -> bool {
        self.segment
            .is_none_or(|segment| segment.contains(aggregate_id))
    }
}

/// What handling a page has achieved so far.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The cursor of the last event dealt with (handled, skipped after an error, or left to
    /// another segment).
    pub(crate) reached: Cursor,
    /// How many events were handled without error.
    pub(crate) handled: usize,
    /// How many events were dealt with (the index in the page of the next one).
    pub(crate) dealt: usize,
    /// The error that stopped the page, if one did.
    pub(crate) failure: Option<Error>,
}

/// A stored event of `E`'s stream decoded for the model: its events (one, unless an upcaster
/// split it) and its metadata, or the handler error that names it.
type DecodedEvent<E> = Result<(Decoded<E>, EventMeta), Error>;

/// Takes the next event of `E`'s stream off the front of `pending`, decoded where it lies
/// (its cursor, and its events and metadata or the decoding error), skipping (and counting as
/// dealt with) the events of other segments. `None` once the next row is not an event of
/// `E`'s stream.
fn next_of_stream<S, E: Aggregate>(
    context: &RouteContext<'_, S>,
    pending: &mut Pending,
    progress: &mut Progress,
) -> Option<(Cursor, DecodedEvent<E>)> {
    while let Some(Ok(row)) = pending.peek() {
        if row.stream != E::STREAM {
            return None;
        }
        let cursor = row.cursor;
        if context.owns(row.aggregate_id) {
            let decoded = decode::<E>(context.bookmark, &row);
            pending.advance();
            return Some((cursor, decoded));
        }
        pending.advance();
        progress.reached = cursor;
        progress.dealt += 1;
    }
    None
}

/// Records the outcome of one event; returns whether the page goes on.
fn settle<S>(
    context: &RouteContext<'_, S>,
    progress: &mut Progress,
    cursor: Cursor,
    outcome: Result<(), Error>,
) -> bool {
    match outcome {
        Ok(()) => progress.handled += 1,
        Err(error) if context.continue_on_error => (context.report)(&error),
        Err(error) => {
            progress.failure = Some(error);
            return false;
        }
    }
    progress.reached = cursor;
    progress.dealt += 1;
    true
}

/// Handles the events at the front of `pending` for as long as they belong to `E`'s stream.
/// One boxed future per run of events of a stream, not per event: catching up on one stream
/// allocates once per page.
pub(crate) fn route<'a, S: Store, H, E: HandledBy<H>>(
    model: &'a H,
    context: &'a RouteContext<'a, S>,
    pending: &'a mut Pending,
    progress: &'a mut Progress,
    _transaction: Option<&'a mut S::Transaction>,
) -> RouteFuture<'a>
where
    H: Sync,
{
    Box::pin(async move {
        while let Some((cursor, decoded)) = next_of_stream::<S, E>(context, pending, progress) {
            let outcome = match decoded {
                Ok((events, meta)) => {
                    let mut outcome = Ok(());
                    // One event, unless an upcaster split the stored one: all are handled
                    // with its metadata, and the first failure is the stored event's.
                    for event in events {
                        outcome = E::dispatch(model, &meta.aggregate_id, &event, &meta)
                            .await
                            .map_err(|source| failed(context.bookmark, &event, &meta, source));
                        if outcome.is_err() {
                            break;
                        }
                    }
                    outcome
                }
                Err(error) => Err(error),
            };
            if !settle(context, progress, cursor, outcome) {
                return;
            }
        }
    })
}

/// As [`route`], for a transactional projection: each event is projected in the page's
/// transaction, inside a savepoint of its own when the handler continues on error, so that a
/// failing event's writes are undone alone.
pub(crate) fn project_route<'a, S: Store, H, E: ProjectedBy<H, S::Transaction>>(
    model: &'a H,
    context: &'a RouteContext<'a, S>,
    pending: &'a mut Pending,
    progress: &'a mut Progress,
    transaction: Option<&'a mut S::Transaction>,
) -> RouteFuture<'a>
where
    H: Sync,
{
    Box::pin(async move {
        let Some(transaction) = transaction else {
            // The run loop opens a transaction whenever a route is transactional.
            progress.failure = Some(Error::Config(format!(
                "handler `{}` projects `{}` but its page has no transaction",
                context.bookmark,
                E::STREAM
            )));
            return;
        };
        while let Some((cursor, decoded)) = next_of_stream::<S, E>(context, pending, progress) {
            let outcome = match decoded {
                Ok((events, meta)) => {
                    match project_all::<S, H, E>(model, context, transaction, events, &meta).await {
                        Ok(outcome) => outcome,
                        Err(broken) => {
                            // The transaction itself failed: the page ends here, whatever
                            // `continue_on_error` says, and is rolled back.
                            progress.failure = Some(broken);
                            return;
                        }
                    }
                }
                Err(error) => Err(error),
            };
            if !settle(context, progress, cursor, outcome) {
                return;
            }
        }
    })
}

/// Projects the events of one stored event: one, unless an upcaster split it, and then all of
/// them or none. The outer error is a failure of the transaction itself (a savepoint that
/// cannot be set, rolled back to or released: the database may have rolled the whole
/// transaction back, after a deadlock for example, and a statement after that would run
/// outside it); the inner one is the event's failure.
async fn project_all<S: Store, H, E: ProjectedBy<H, S::Transaction>>(
    model: &H,
    context: &RouteContext<'_, S>,
    transaction: &mut S::Transaction,
    events: Decoded<E>,
    meta: &EventMeta,
) -> Result<Result<(), Error>, Error>
where
    H: Sync,
{
    let project = async |transaction: &mut S::Transaction| {
        for event in events {
            E::project(model, transaction, &meta.aggregate_id, &event, meta)
                .await
                .map_err(|source| failed(context.bookmark, &event, meta, source))?;
        }
        Ok(())
    };
    if !context.continue_on_error {
        // A failure ends the page, whose transaction is then rolled back as a whole.
        return Ok(project(transaction).await);
    }
    // One savepoint for the stored event, so that a failing one's writes are undone alone,
    // all the parts of a split one included.
    context.store.savepoint(transaction).await?;
    match project(transaction).await {
        Ok(()) => {
            context.store.release_savepoint(transaction).await?;
            Ok(Ok(()))
        }
        Err(failure) => {
            context.store.rollback_to_savepoint(transaction).await?;
            context.store.release_savepoint(transaction).await?;
            Ok(Err(failure))
        }
    }
}

/// The handler error for a model's failure on one event.
fn failed<E: Aggregate>(bookmark: &str, event: &E, meta: &EventMeta, source: BoxError) -> Error {
    Error::Handler {
        bookmark: bookmark.to_owned(),
        stream: E::STREAM.to_owned(),
        aggregate_id: meta.aggregate_id.clone(),
        position: meta.cursor.position,
        event_type: event.event_type().to_owned(),
        source,
    }
}

/// Decodes an event of `E`'s stream with its metadata, where the row lies; the error names the
/// handler, the event and its type. This runs once per event, so it copies out only the
/// aggregate id, which the event's metadata owns.
fn decode<E: Aggregate>(bookmark: &str, row: &EventRow<'_>) -> DecodedEvent<E> {
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
    let at = EventAt {
        stream: row.stream,
        aggregate_id: row.aggregate_id,
        position: row.cursor.position,
    };
    let events = decode_upcast::<E>(row.event, at).map_err(failure)?;
    let meta = event_meta_of_row(E::STREAM, row).map_err(failure)?;
    Ok((events, meta))
}

/// The handler error for a row that cannot be read: it names the row like a failing event, so
/// that it is reported, and skipped under `continue_on_error`, the same way.
pub(crate) fn unreadable_row_error(bookmark: &str, unreadable: UnreadableRow) -> Error {
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
