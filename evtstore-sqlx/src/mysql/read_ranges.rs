//! MariaDB's catch-up reader: ranges of positions up to one settled position, each range's
//! query started on a connection of its own while the rows of the range before it are still
//! arriving.
//!
//! Why ranges: the default reader (`read_ahead::read_query_after_query`) starts each query
//! after the last row of the one before, so it can start only once that row has arrived, and
//! on MariaDB each new query then costs a few milliseconds while the server starts it and the
//! client waits. The bounds of a range do not depend on the rows of the one before, so the
//! server runs the next query while the client is still receiving the current one. A handler
//! catching up on 100,000 events read 0.71-0.84x the throughput of one `SELECT` of them in
//! the round with the median ratio, against 0.57-0.75x with queries after the last row
//! (`BENCHMARKS.md`).
//!
//! Why it stays gap-free: every range ends at or below one settled position, read before the
//! first range's query started. Every row at or below it had committed before any of the
//! ranges' read views was opened, so each range sees all of its rows (see
//! `sql/mysql/settled_position.sql` and `sql/mysql/read.sql`).
//!
//! Why memory stays bounded: a range's query brings at most [`Outbox::rows_per_query`] rows
//! (`LIMIT`); at most two ranges' queries run at once, and a new one starts only while the
//! chain has room ([`Outbox::room`]). A range whose query stops at that limit before its end
//! is read on from its last row, and the range started after it is dropped. Each query is drained to its end
//! whatever the handler does, so none keeps the server waiting for its client.
//!
//! Why ranges widen: a stream with few events among many of other streams would otherwise
//! take a query per [`Outbox::rows_per_query`] positions, and a handler caught up on it
//! would take them all again at each read, from its last event to the end of the table. A
//! range that brought fewer than a quarter of a query's rows doubles the width of the ranges
//! started after it; one cut short by the limit sets it back.

use std::sync::Arc;

use evtstore::{Cursor, Error, ReadRow, row_cursor};
use tokio::sync::mpsc;

use super::{MySqlStore, reading};
use crate::read_ahead::{Outbox, PageBuilder};

/// Reads the rows of `streams` after `after` up to the settled position into `outbox`, in
/// ranges of positions, the next range's query running while the rows of the current one are
/// forwarded.
pub(super) async fn read_by_ranges(
    store: MySqlStore,
    streams: Vec<String>,
    after: Cursor,
    outbox: Outbox,
) {
    let settled = match store
        .settled_position_now(&reading(&streams, after.position))
        .await
    {
        Ok(settled) => settled,
        Err(error) => return outbox.fail(error),
    };
    let rows = outbox.rows_per_query();
    let mut ranges = Ranges {
        store,
        streams: streams.into(),
        settled,
        rows,
        width: i64::try_from(rows).unwrap_or(i64::MAX),
        page_size: outbox.page_size(),
    };
    let mut current = ranges.start(after.position);
    while let Some(range) = current.take() {
        let upto = range.upto;
        let mut next = None;
        if range.upto < ranges.settled {
            if !outbox.room().await {
                return;
            }
            next = ranges.start(range.upto);
        }
        let read = match range.forward(&outbox).await {
            Ok(read) => read,
            Err(error) => return outbox.fail(error),
        };
        match read.last {
            // The query stopped at its limit before the end of the range: the rest of it is
            // read on from its last row, and the next range, started too early, is dropped
            // (its query runs to its end with nowhere to send its rows).
            Some(last) if read.rows >= ranges.rows && last < upto => {
                drop(next);
                ranges.width = i64::try_from(ranges.rows).unwrap_or(i64::MAX);
                if !outbox.room().await {
                    return;
                }
                current = ranges.start(last);
            }
            _ => {
                if read.rows < ranges.rows / 4 {
                    ranges.width = ranges.width.saturating_mul(2);
                }
                current = next;
            }
        }
    }
    outbox.end();
}

/// What the ranges of one reader share.
struct Ranges {
    store: MySqlStore,
    streams: Arc<[String]>,
    /// The settled position every range ends at or below.
    settled: i64,
    /// The most rows one range's query brings.
    rows: usize,
    /// How many positions the next range started spans.
    width: i64,
    page_size: usize,
}

/// What the query of one range sends, in order.
enum Received {
    Rows(Vec<ReadRow>),
    Failed(Error),
    /// The query has ended: every row it brought has been sent.
    Done,
}

/// One range's query, running in the background.
struct Range {
    /// The last position of the range.
    upto: i64,
    received: mpsc::UnboundedReceiver<Received>,
}

/// What a range's query brought.
struct RangeRead {
    rows: usize,
    /// The position of its last row.
    last: Option<i64>,
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
        let (rows, page_size) = (self.rows, self.page_size);
        tokio::spawn(async move {
            let streams: Vec<&str> = streams.iter().map(String::as_str).collect();
            let mut pages = PageBuilder::new(page_size);
            // A send fails only once the reader has stopped or dropped this range: the rows
            // have nowhere to go, and the query still runs to its end.
            let read = read_range(&store, &streams, (from, upto), rows, &mut |row| {
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
    rows: usize,
    keep: &mut (dyn FnMut(ReadRow) + Send),
) -> Result<(), Error> {
    let mut conn = store
        .connection()
        .await
        .map_err(|error| crate::common::db_error(reading(streams, from), error))?;
    store
        .read_between(&mut conn, streams, (from, upto), rows, keep)
        .await?;
    Ok(())
}

impl Range {
    /// Sends the range's rows on to `outbox` as they arrive, until its query has ended.
    ///
    /// # Errors
    /// The query's error, after the rows that came before it; an error too if the query's task
    /// stopped without saying that its query had ended (it panicked), so that no row is
    /// passed over unnoticed.
    async fn forward(mut self, outbox: &Outbox) -> Result<RangeRead, Error> {
        let mut read = RangeRead {
            rows: 0,
            last: None,
        };
        loop {
            match self.received.recv().await {
                Some(Received::Rows(rows)) => {
                    if let Some(last) = rows.last() {
                        read.last = Some(row_cursor(last).position);
                    }
                    read.rows += rows.len();
                    outbox.send(rows);
                }
                Some(Received::Done) => return Ok(read),
                Some(Received::Failed(error)) => return Err(error),
                None => {
                    return Err(Error::database(
                        format_args!("reading positions up to {}", self.upto),
                        "the query's task stopped before its query ended",
                    ));
                }
            }
        }
    }
}
