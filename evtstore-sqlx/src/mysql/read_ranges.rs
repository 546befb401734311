//! MariaDB's catch-up reader: ranges of positions up to the settled position, each range's
//! query started on a connection of its own while the rows of the range before it are still
//! arriving.
//!
//! Why ranges: the default reader (`read_ahead::read_query_after_query`) starts each query
//! after the last row of the one before, so it can start only once that row has arrived, and
//! on MariaDB each new query then costs a few milliseconds while the server starts it and the
//! client waits. The bounds of a range do not depend on the rows of the one before, so the
//! server runs the next query while the client is still receiving the current one. In plain
//! sqlx, 100,000 rows read this way took 0.87-0.88x the time of one `SELECT` of them, against
//! 0.70-0.80x for queries after the last row (`BENCHMARKS.md`).
//!
//! Why it stays gap-free: every range ends at or below one settled position, read before the
//! first range's query started. Every row at or below it had committed before any of the
//! ranges' read views was opened, so each range sees all of its rows (see
//! `sql/mysql/read.sql`).
//!
//! Why memory stays bounded: positions are unique, so a range of N positions holds at most N
//! rows; at most two ranges run at once, and a new one starts only while the chain has room
//! ([`Outbox::room`]). A sparse stream takes more ranges than rows would need, each a cheap
//! scan of the primary key that a read after the last row would scan as well.

use std::sync::Arc;

use evtstore::{Cursor, Error, ReadRow};
use tokio::sync::mpsc;

use super::MySqlStore;
use crate::common::db_error;
use crate::read_ahead::{Outbox, PageBuilder};

/// Reads the rows of `streams` after `after` up to the settled position into `outbox`, in
/// ranges of [`Outbox::rows_per_query`] positions, each range's query started before the rows
/// of the one before it are forwarded.
pub(super) async fn read_by_ranges(
    store: MySqlStore,
    streams: Vec<String>,
    after: Cursor,
    outbox: Outbox,
) {
    let streams: Arc<[String]> = streams.into();
    let settled = match settled_position(&store, &streams, after).await {
        Ok(settled) => settled,
        Err(error) => return outbox.fail(error),
    };
    let ranges = Ranges {
        store,
        streams,
        settled,
        width: i64::try_from(outbox.rows_per_query()).unwrap_or(i64::MAX),
        page_size: outbox.page_size(),
    };
    let mut next = ranges.start(after.position);
    while let Some(range) = next.take() {
        if range.upto < ranges.settled {
            if !outbox.room().await {
                return;
            }
            next = ranges.start(range.upto);
        }
        if let Err(error) = range.forward(&outbox).await {
            return outbox.fail(error);
        }
    }
    outbox.end();
}

async fn settled_position(
    store: &MySqlStore,
    streams: &[String],
    after: Cursor,
) -> Result<i64, Error> {
    let operation = format!("reading {streams:?} after position {}", after.position);
    let mut conn = store
        .connection()
        .await
        .map_err(|error| db_error(&operation, error))?;
    store
        .settled_position(&mut conn)
        .await
        .map_err(|error| db_error(&operation, error))
}

/// What the ranges of one reader share.
struct Ranges {
    store: MySqlStore,
    streams: Arc<[String]>,
    /// The settled position every range ends at or below.
    settled: i64,
    /// How many positions a range spans.
    width: i64,
    page_size: usize,
}

/// What the query of one range sends, in order.
enum Received {
    Rows(Vec<ReadRow>),
    Failed(Error),
    /// Every row of the range has been sent.
    Done,
}

/// One range's query, running in the background.
struct Range {
    /// The last position of the range.
    upto: i64,
    received: mpsc::UnboundedReceiver<Received>,
}

impl Ranges {
    /// Starts the query of the range after `from`, unless `from` is already at the settled
    /// position.
    fn start(&self, from: i64) -> Option<Range> {
        if from >= self.settled {
            return None;
        }
        let upto = from.saturating_add(self.width).min(self.settled);
        let (sender, received) = mpsc::unbounded_channel();
        let store = self.store.clone();
        let streams = Arc::clone(&self.streams);
        let (width, page_size) = (self.width, self.page_size);
        tokio::spawn(async move {
            let streams: Vec<&str> = streams.iter().map(String::as_str).collect();
            let mut pages = PageBuilder::new(page_size);
            // A send fails only once the reader has stopped: the rows have nowhere to go.
            let read = read_range(&store, &streams, (from, upto), width, &mut |row| {
                if let Some(page) = pages.push(row) {
                    let _ = sender.send(Received::Rows(page));
                }
            })
            .await;
            let _ = sender.send(Received::Rows(pages.finish()));
            let _ = sender.send(match read {
                Ok(()) => Received::Done,
                Err(error) => Received::Failed(error),
            });
        });
        Some(Range { upto, received })
    }
}

async fn read_range(
    store: &MySqlStore,
    streams: &[&str],
    (from, upto): (i64, i64),
    width: i64,
    keep: &mut (dyn FnMut(ReadRow) + Send),
) -> Result<(), Error> {
    let mut conn = store.connection().await.map_err(|error| {
        db_error(
            format_args!("reading {streams:?} after position {from}"),
            error,
        )
    })?;
    let rows = usize::try_from(width).unwrap_or(usize::MAX);
    store
        .read_between(&mut conn, streams, (from, upto), rows, keep)
        .await?;
    Ok(())
}

impl Range {
    /// Sends the range's rows on to `outbox` as they arrive, until all of them have.
    ///
    /// # Errors
    /// The query's error, after the rows that came before it; an error too if the query's task
    /// stopped without saying that it had sent every row (it panicked), so that no row is
    /// passed over unnoticed.
    async fn forward(mut self, outbox: &Outbox) -> Result<(), Error> {
        loop {
            match self.received.recv().await {
                Some(Received::Rows(rows)) => outbox.send(rows),
                Some(Received::Done) => return Ok(()),
                Some(Received::Failed(error)) => return Err(error),
                None => {
                    return Err(Error::database(
                        format_args!("reading positions up to {}", self.upto),
                        "the query's task stopped before its last row",
                    ));
                }
            }
        }
    }
}
