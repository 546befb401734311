//! The run of one lane: read a page, hand it to the routes, move the bookmark (after the page
//! for plain routes, in the page's transaction for projections), until a read finds nothing.

use std::time::Instant;

use tokio::sync::watch;
use tracing::Instrument;

use crate::error::Error;
use crate::event::{Cursor, UnreadableRow};
use crate::handler::dispatch::{Progress, RouteContext, unreadable_row_error};
use crate::handler::lane::{Lane, LaneState};
use crate::handler::model::HandlerModel;
use crate::handler::{BatchReport, BookmarkHome, EventHandler};
use crate::page::Page;
use crate::store::{Claim, Store};

/// What one page achieved once its transaction (if any) was settled.
struct Settled {
    reached: Cursor,
    handled: usize,
    failure: Option<Error>,
    /// The commit failed in a way that leaves unknown whether it went through.
    uncertain: bool,
}

impl<S: Store, H: HandlerModel> EventHandler<S, H> {
    /// Reads and handles pages of `lane` until one is empty or `stop` is set; returns
    /// (fetched, handled). The caller holds the lane's claim (see [`hold`](Self::hold)).
    pub(crate) async fn run_pages(
        &self,
        lane: &Lane,
        state: &mut LaneState,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<(usize, usize), Error> {
        let outcome = self.run_pages_held(lane, state, stop).await;
        if let Err(Error::ClaimLost { .. }) = outcome {
            state.drop_claim();
        }
        outcome
    }

    async fn run_pages_held(
        &self,
        lane: &Lane,
        state: &mut LaneState,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<(usize, usize), Error> {
        let inner = &*self.inner;
        let settings = &inner.settings;
        let claim = state.claim().cloned();
        let claim = claim.as_ref();
        let mut cursor = match state.position {
            Some(cursor) => cursor,
            None => self.starting_cursor(lane, state, claim).await?,
        };
        state.position = Some(cursor);
        let (mut fetched, mut handled) = (0, 0);
        // The bookmark of the last plain page handled, written while the next page is handled
        // so that catching up does not wait for one bookmark write per page.
        let mut unwritten = None;
        // When the bookmark was last stored: while catching up it is stored once
        // `bookmark_every` has passed, and always when the run ends.
        let mut last_written = Instant::now();
        let mut page = inner
            .store
            .read_page(&inner.streams, cursor, settings.page_size)
            .await?;
        while !page.is_empty() {
            if let Some(hook) = &settings.before_batch {
                hook();
            }
            // Renew the claim if a third of the lease has passed, so that every page starts
            // with at least two thirds of it left.
            if state.held.is_some()
                && let Err(error) = self.hold(lane, state).await
            {
                let _ = self.write_bookmark(claim, unwritten.take()).await;
                return Err(error);
            }
            let page_len = page.len();
            let last = page.last_cursor().unwrap_or(cursor);
            // One span per page (not per event): cheap enough to leave on at INFO. Its
            // duration is the page's, handled and stored (or committed).
            let batch = tracing::info_span!(
                "evtstore.handler.batch",
                handler = %inner.name,
                segment = lane.segment.map(|segment| segment.index()),
                transactional = inner.transactional,
                events = page_len,
                handled = tracing::field::Empty,
            );
            let (settled, next, written) = async {
                if inner.transactional {
                    // Projected pages are handled, committed and only then is the next one read:
                    // a store whose pool has one connection (SQLite in memory) would otherwise
                    // wait for the connection the transaction holds.
                    let mut transaction = inner.store.begin().await?;
                    let progress = self.handle_page(lane, page, Some(&mut transaction)).await;
                    let sent = Instant::now();
                    let settled = self
                        .settle_transaction(lane, claim, cursor, transaction, progress)
                        .await;
                    if settled.reached > cursor {
                        state.renewed(sent);
                    }
                    if settled.uncertain {
                        // A commit whose outcome is unknown (the connection went away while it
                        // ran): the stored bookmark says whether it went through, once that
                        // commit has ended (see `starting_cursor`).
                        state.position = None;
                        state.commit_unknown = true;
                    }
                    let next = match settled.failure {
                        None => {
                            inner
                                .store
                                .read_page(&inner.streams, last, settings.page_size)
                                .await
                        }
                        Some(_) => Ok(Page::default()),
                    };
                    Ok::<_, Error>((settled, next, Ok(false)))
                } else {
                    let sent = Instant::now();
                    let due = sent.duration_since(last_written) >= settings.bookmark_every;
                    let to_write = if due { unwritten.take() } else { None };
                    // Read the next page while this one is handled, and store the bookmark of the
                    // one before: catching up costs two round trips per page less.
                    let (progress, next, written) = tokio::join!(
                        self.handle_page(lane, page, None),
                        inner
                            .store
                            .read_page(&inner.streams, last, settings.page_size),
                        self.write_bookmark(claim, to_write),
                    );
                    if let Ok(true) = written {
                        state.renewed(sent);
                        last_written = sent;
                    }
                    let settled = Settled {
                        reached: progress.reached,
                        handled: progress.handled,
                        failure: progress.failure,
                        uncertain: false,
                    };
                    Ok((settled, next, written))
                }
            }
            .instrument(batch.clone())
            .await?;
            batch.record("handled", settled.handled);
            fetched += page_len;
            handled += settled.handled;
            if settled.handled > 0 {
                lane.handled_now();
            }
            if settled.reached > cursor && !settled.uncertain {
                cursor = settled.reached;
                state.position = Some(cursor);
                lane.advanced_to(cursor);
                if !inner.transactional {
                    unwritten = Some(cursor);
                }
            }
            if let Some(hook) = &settings.after_batch {
                hook(BatchReport {
                    fetched: page_len,
                    handled: settled.handled,
                });
            }
            let stopped = stop.is_some_and(|stop| *stop.borrow());
            // Whatever ends the run, the bookmark of what was handled is stored first.
            let ended = match (written, settled.failure, next) {
                (Err(error), _, _) | (_, Some(error), _) | (_, _, Err(error)) => Err(error),
                (Ok(_), None, Ok(_)) if stopped => Ok(()),
                (Ok(_), None, Ok(next)) => {
                    page = next;
                    continue;
                }
            };
            let stored = self.write_bookmark(claim, unwritten.take()).await;
            // The error that ended the run explains more than a failed bookmark write after it.
            return ended.and(stored).map(|_| (fetched, handled));
        }
        self.write_bookmark(claim, unwritten).await?;
        Ok((fetched, handled))
    }

    /// Commits a projection's page with its bookmark, or, when an event failed (and the
    /// handler does not continue on error), rolls the page back and projects again, in a new
    /// transaction, the events before the failing one: the bookmark then stops just before it,
    /// as it does for a plain handler. Reads are stable (a store never returns an event and
    /// later commits one before it), so reading that many events again returns the same ones.
    async fn settle_transaction(
        &self,
        lane: &Lane,
        claim: Option<&Claim>,
        cursor: Cursor,
        transaction: S::Transaction,
        progress: Progress,
    ) -> Settled {
        let Some(failure) = progress.failure else {
            let committed = match progress.reached > cursor {
                true => self.commit_page(claim, transaction, progress.reached).await,
                false => Ok(()),
            };
            return match committed {
                Ok(()) => Settled {
                    reached: progress.reached,
                    handled: progress.handled,
                    failure: None,
                    uncertain: false,
                },
                Err(error) => Settled {
                    reached: cursor,
                    handled: 0,
                    uncertain: !matches!(error, Error::ClaimLost { .. }),
                    failure: Some(error),
                },
            };
        };
        drop(transaction);
        let mut settled = Settled {
            reached: cursor,
            handled: 0,
            failure: Some(failure),
            uncertain: false,
        };
        if progress.dealt > 0 {
            match self
                .project_again(lane, claim, cursor, progress.dealt)
                .await
            {
                Ok((reached, handled)) => {
                    settled.reached = reached;
                    settled.handled = handled;
                }
                // The failing event's error is the one to return; this one says why the events
                // before it are not kept either.
                Err(error) => {
                    settled.uncertain = !matches!(error, Error::ClaimLost { .. });
                    self.report(&error);
                }
            }
        }
        settled
    }

    /// Projects again, in a transaction of their own, the first `count` events after `cursor`
    /// and commits them; returns the cursor reached and how many were handled.
    async fn project_again(
        &self,
        lane: &Lane,
        claim: Option<&Claim>,
        cursor: Cursor,
        count: usize,
    ) -> Result<(Cursor, usize), Error> {
        let inner = &*self.inner;
        let rows = inner.store.read_page(&inner.streams, cursor, count).await?;
        let mut transaction = inner.store.begin().await?;
        let progress = self.handle_page(lane, rows, Some(&mut transaction)).await;
        if let Some(failure) = progress.failure {
            return Err(failure);
        }
        if progress.reached <= cursor {
            return Ok((cursor, 0));
        }
        self.commit_page(claim, transaction, progress.reached)
            .await?;
        Ok((progress.reached, progress.handled))
    }

    /// Commits a projection's transaction, with the lane's bookmark when it is kept in the
    /// store.
    async fn commit_page(
        &self,
        claim: Option<&Claim>,
        transaction: S::Transaction,
        cursor: Cursor,
    ) -> Result<(), Error> {
        let inner = &*self.inner;
        match inner.settings.bookmark_home {
            BookmarkHome::Memory => inner.store.commit(transaction).await,
            BookmarkHome::Store => {
                let claim = claim.ok_or_else(unclaimed)?;
                inner
                    .store
                    .commit_claimed(transaction, claim, cursor, inner.settings.lease)
                    .await
            }
        }
    }

    /// Stores the bookmark when there is one to store; returns whether it wrote one (which
    /// also extended the claim's lease).
    pub(crate) async fn write_bookmark(
        &self,
        claim: Option<&Claim>,
        cursor: Option<Cursor>,
    ) -> Result<bool, Error> {
        let inner = &*self.inner;
        let Some(cursor) = cursor else {
            return Ok(false);
        };
        match inner.settings.bookmark_home {
            BookmarkHome::Memory => Ok(false),
            BookmarkHome::Store => {
                let claim = claim.ok_or_else(unclaimed)?;
                inner
                    .store
                    .set_claimed_bookmark(claim, cursor, inner.settings.lease)
                    .await?;
                Ok(true)
            }
        }
    }

    /// Handles one page, stream run by stream run; stops at the first failing event unless
    /// `continue_on_error`.
    async fn handle_page(
        &self,
        lane: &Lane,
        page: Page,
        mut transaction: Option<&mut S::Transaction>,
    ) -> Progress {
        let inner = &*self.inner;
        let report = |error: &Error| self.report(error);
        let context = RouteContext {
            store: &inner.store,
            bookmark: &lane.bookmark,
            segment: lane.segment,
            continue_on_error: inner.settings.options.continue_on_error,
            report: &report,
        };
        let mut pending = page.into_iter();
        let mut progress = Progress::default();
        while let Some(next) = pending.peek() {
            let next = match next {
                Ok(next) => next,
                Err(_) => {
                    if let Some(Err(unreadable)) = pending.next()
                        && !deal_with_unreadable(&context, unreadable, &mut progress)
                    {
                        break;
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
                    let transaction = transaction.as_deref_mut();
                    (route.dispatch)(
                        &inner.model,
                        &context,
                        &mut pending,
                        &mut progress,
                        transaction,
                    )
                    .await;
                }
                None => {
                    // A store returned a stream that was not asked for; nothing handles it.
                    progress.reached = next.cursor;
                    progress.dealt += 1;
                    pending.advance();
                }
            }
            if progress.failure.is_some() {
                break;
            }
        }
        progress
    }

    /// Where a lane starts when no position is cached: the end of the streams for
    /// `always_tail_stream`, else the bookmark read with the claim (or read now).
    async fn starting_cursor(
        &self,
        lane: &Lane,
        state: &mut LaneState,
        claim: Option<&Claim>,
    ) -> Result<Cursor, Error> {
        let inner = &*self.inner;
        let options = inner.settings.options;
        if std::mem::take(&mut state.commit_unknown)
            && let Some(claim) = claim
        {
            // The last commit's outcome is unknown: it may still be running on the server.
            // Renewing the claim updates the bookmark row, so it waits for that commit's row
            // lock; the read after it sees the bookmark the commit left, or the one before.
            let sent = Instant::now();
            inner.store.renew_claim(claim, inner.settings.lease).await?;
            state.renewed(sent);
        }
        let stored = match (inner.settings.bookmark_home, state.claimed_bookmark.take()) {
            (BookmarkHome::Memory, _) => None,
            (BookmarkHome::Store, Some(read_with_claim)) => read_with_claim,
            (BookmarkHome::Store, None) => inner.store.bookmark(&lane.bookmark).await?,
        };
        let tail = (options.always_tail_stream && !state.begun)
            || (options.tail_stream && stored.is_none());
        let start = match stored {
            Some(cursor) if !tail => cursor,
            _ if tail => {
                let last = inner.store.last_cursor(&inner.streams).await?;
                // Store the starting place at once: a later run (this one's after letting go
                // of the claim, or another process's) resumes there and must not jump ahead
                // again past events that arrived in between.
                let sent = Instant::now();
                if self.write_bookmark(claim, Some(last)).await? {
                    state.renewed(sent);
                }
                last
            }
            _ => Cursor::START,
        };
        // Only once the start is settled (and a tail stored): a run that failed before this
        // tails again instead of resuming from an old bookmark.
        state.begun = true;
        Ok(start)
    }
}

/// Deals with a row that cannot be read as an event: it belongs to its aggregate's segment
/// (segment 0 when not even the aggregate id could be read), which reports it, and skips it
/// under `continue_on_error`; other segments pass over it. Returns whether the page goes on.
fn deal_with_unreadable<S>(
    context: &RouteContext<'_, S>,
    unreadable: UnreadableRow,
    progress: &mut Progress,
) -> bool {
    let cursor = unreadable.cursor;
    let owned = match (context.segment, &unreadable.aggregate_id) {
        (None, _) => true,
        (Some(segment), Some(aggregate_id)) => segment.contains(aggregate_id),
        (Some(segment), None) => segment.index() == 0,
    };
    if owned {
        let error = unreadable_row_error(context.bookmark, unreadable);
        if !context.continue_on_error {
            progress.failure = Some(error);
            return false;
        }
        (context.report)(&error);
    }
    progress.reached = cursor;
    progress.dealt += 1;
    true
}

/// A runner that keeps its bookmark in the store always holds a claim when it writes; this is
/// the error should that ever not be so, rather than an unfenced write.
fn unclaimed() -> Error {
    Error::Config("a handler tried to store its bookmark without holding its claim".to_owned())
}
