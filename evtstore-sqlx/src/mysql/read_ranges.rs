//! MariaDB's catch-up reader: ranges of positions up to one settled position, each range's
//! query started while the rows of the range before it are still arriving, on a connection of
//! its own (the first range's on the connection the settled position was read on).
//!
//! Why ranges: the default reader (`read_ahead::read_query_after_query`) starts each query
//! after the last row of the one before, so it can start only once that row has arrived, and
//! on MariaDB each new query then costs a few milliseconds while the server starts it and the
//! client waits. The bounds of a range do not depend on the rows of the one before, so the
//! server runs the next query while the client is still receiving the current one. A handler
//! catching up on 100,000 events read 0.71-0.87x the throughput of one `SELECT` of them in
//! the round with the median ratio (fourteen runs), against 0.57-0.75x with queries after the
//! last row (six runs; `BENCHMARKS.md`).
//!
//! Why it stays gap-free: every range ends at or below one settled position, read before the
//! first range's query started. Every row at or below it had committed before any of the
//! ranges' read views was opened, so each range sees all of its rows (see
//! `sql/mysql/settled_position.sql` and `sql/mysql/read.sql`).
//!
//! Why memory stays bounded: a range's query brings at most [`Outbox::rows_per_query`] rows
//! (`LIMIT`); at most two ranges' queries run at once, and a new one starts only while the
//! chain has room ([`Outbox::room`]). A range whose query stops at that limit before its end
//! is read on from its last row, and the range started after it is dropped. Each query is
//! drained to its end whatever the handler does, so none keeps the server waiting for its
//! client.
//!
//! Why only one at a time on a busy pool: the next range starts early only while the pool
//! can lend a connection and keep one idle, so that catching up never takes the last
//! connection from a service's commands.
//!
//! Why ranges widen: a stream with few events among many of other streams would otherwise
//! take a query per [`Outbox::rows_per_query`] positions, and a handler caught up on it
//! would take them all again at each read, from its last event to the end of the table. A
//! range that brought fewer than a quarter of a query's rows doubles the width of the ranges
//! started after it; one cut short by the limit sets it back.

use std::future::Future;
use std::sync::Arc;

use evtstore::{Cursor, Error, PackedRows};
use sqlx::mysql::MySql;
use sqlx::pool::PoolConnection;
use tokio::sync::mpsc;

use super::{MySqlStore, reading};
use crate::common::{RowRef, db_error};
use crate::read_ahead::{Outbox, PageBuilder};

/// What the range reader needs of a store: the MySQL store's, or a table in memory in the
/// tests.
pub(super) trait RangeSource: Clone + Send + Sync + 'static {
    /// A connection the settled position was read on, which the first range reads on too:
    /// taking a second one from the pool would cost a caught-up handler a round trip (the
    /// pool checks a connection before lending it) at every read.
    type Connection: Send + 'static;

    /// Whether the pool can lend one more connection and keep one for other work: the next
    /// range's query starts early only then, so that handlers catching up never take the
    /// last connection from the commands of a busy service.
    fn has_spare_connection(&self) -> bool;

    /// The settled position, read now (`sql/mysql/settled_position.sql`).
    fn settled_now(
        &self,
        streams: &[String],
        after: Cursor,
    ) -> impl Future<Output = Result<(i64, Self::Connection), Error>> + Send;

    /// Up to `rows` rows of `streams` with positions after `from` and up to `upto`, in order,
    /// each handed to `keep` as it is decoded, on `connection` or else one of its own.
    fn read_range(
        &self,
        connection: Option<Self::Connection>,
        streams: &[&str],
        bounds: (i64, i64),
        rows: usize,
        keep: &mut (dyn FnMut(RowRef<'_>) + Send),
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

impl RangeSource for MySqlStore {
    type Connection = PoolConnection<MySql>;

    fn has_spare_connection(&self) -> bool {
        let max = self.pool.options().get_max_connections();
        self.pool.num_idle() > 1 || self.pool.size().saturating_add(1) < max
    }

    async fn settled_now(
        &self,
        streams: &[String],
        after: Cursor,
    ) -> Result<(i64, Self::Connection), Error> {
        let operation = reading(streams, after.position);
        let mut conn = self
            .connection()
            .await
            .map_err(|error| db_error(&operation, error))?;
        let settled = self
            .settled_position(&mut conn)
            .await
            .map_err(|error| db_error(&operation, error))?;
        Ok((settled, conn))
    }

    async fn read_range(
        &self,
        connection: Option<Self::Connection>,
        streams: &[&str],
        (from, upto): (i64, i64),
        rows: usize,
        keep: &mut (dyn FnMut(RowRef<'_>) + Send),
    ) -> Result<(), Error> {
        let mut conn = match connection {
            Some(conn) => conn,
            None => self
                .connection()
                .await
                .map_err(|error| db_error(reading(streams, from), error))?,
        };
        self.read_between(&mut conn, streams, (from, upto), rows, keep)
            .await?;
        Ok(())
    }
}

/// Reads the rows of `streams` after `after` up to the settled position into `outbox`, in
/// ranges of positions, the next range's query running while the rows of the current one are
/// forwarded.
pub(super) async fn read_by_ranges<S: RangeSource>(
    source: S,
    streams: Vec<String>,
    after: Cursor,
    outbox: Outbox,
) {
    let (settled, connection) = match source.settled_now(&streams, after).await {
        Ok(settled) => settled,
        Err(error) => return outbox.fail(error),
    };
    let rows = outbox.rows_per_query();
    let mut ranges = Ranges {
        source,
        streams: streams.into(),
        settled,
        rows,
        width: i64::try_from(rows).unwrap_or(i64::MAX),
        page_size: outbox.page_size(),
    };
    let mut current = ranges.start(after.position, Some(connection));
    while let Some(range) = current.take() {
        let upto = range.upto;
        let mut next = None;
        if upto < ranges.settled && ranges.source.has_spare_connection() {
            if !outbox.room().await {
                return;
            }
            next = ranges.start(upto, None);
        }
        let read = match range.forward(&outbox).await {
            Ok(read) => read,
            Err(error) => return outbox.fail(error),
        };
        let (from, started) = match read.last {
            // The query stopped at its limit before the end of the range: the rest of it is
            // read on from its last row, and the next range, started too early, is dropped
            // (its query runs to its end with nowhere to send its rows).
            Some(last) if read.rows >= ranges.rows && last < upto => {
                drop(next);
                ranges.width = i64::try_from(ranges.rows).unwrap_or(i64::MAX);
                (last, None)
            }
            _ => {
                if read.rows < ranges.rows / 4 {
                    ranges.width = ranges.width.saturating_mul(2);
                }
                (upto, next)
            }
        };
        current = match started {
            Some(range) => Some(range),
            // Not started early (no connection to spare, or cut short): started now.
            None if from < ranges.settled => {
                if !outbox.room().await {
                    return;
                }
                ranges.start(from, None)
            }
            None => None,
        };
    }
    outbox.end();
}

/// What the ranges of one reader share.
struct Ranges<S> {
    source: S,
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
    Rows(PackedRows),
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

impl<S: RangeSource> Ranges<S> {
    /// Starts the query of the range after `from`, unless `from` is already at the settled
    /// position.
    fn start(&self, from: i64, connection: Option<S::Connection>) -> Option<Range> {
        if from >= self.settled {
            return None;
        }
        let upto = from.saturating_add(self.width).min(self.settled);
        let (sender, received) = mpsc::unbounded_channel();
        let source = self.source.clone();
        let streams = Arc::clone(&self.streams);
        let (rows, page_size) = (self.rows, self.page_size);
        tokio::spawn(async move {
            let streams: Vec<&str> = streams.iter().map(String::as_str).collect();
            let mut pages = PageBuilder::new(page_size);
            // A send fails only once the reader has stopped or dropped this range: the rows
            // have nowhere to go, and the query still runs to its end.
            let read = source
                .read_range(connection, &streams, (from, upto), rows, &mut |row| {
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
                    if let Some(last) = rows.last_cursor() {
                        read.last = Some(last.position);
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

#[cfg(test)]
mod tests {
    //! The range reader alone, over a table held in memory and read through `ReadAhead` as
    //! the store reads it: the store's own queries are covered by the conformance suite on
    //! MariaDB.

    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::read_ahead::testing::{positions, read_all, released, row, row_ref};
    use crate::read_ahead::{FetchRows, ReadAhead};

    /// A stream's rows at `positions` (ascending) in a table settled up to `settled`; the
    /// query of the range after `fail_after` fails after handing over `rows_before_failure`
    /// rows.
    #[derive(Clone, Default)]
    struct Table {
        positions: Arc<Vec<i64>>,
        settled: i64,
        /// Whether the pool has a connection to spare (the next range then starts early).
        spare: bool,
        /// How long each range query takes before its rows come.
        query_time: Duration,
        /// How many range queries run now, and the most that ran at once.
        running: Arc<Mutex<(usize, usize)>>,
        fail_after: Option<i64>,
        rows_before_failure: usize,
        /// The bounds of every range queried.
        queries: Arc<Mutex<Vec<(i64, i64)>>>,
    }

    impl RangeSource for Table {
        type Connection = ();

        fn has_spare_connection(&self) -> bool {
            self.spare
        }

        async fn settled_now(&self, _: &[String], _: Cursor) -> Result<(i64, ()), Error> {
            Ok((self.settled, ()))
        }

        async fn read_range(
            &self,
            _: Option<()>,
            _: &[&str],
            (from, upto): (i64, i64),
            rows: usize,
            keep: &mut (dyn FnMut(RowRef<'_>) + Send),
        ) -> Result<(), Error> {
            self.queries.lock().unwrap().push((from, upto));
            {
                let mut running = self.running.lock().unwrap();
                running.0 += 1;
                running.1 = running.1.max(running.0);
            }
            tokio::time::sleep(self.query_time).await;
            let result = self.rows_in(from, upto, rows, keep);
            self.running.lock().unwrap().0 -= 1;
            result
        }
    }

    impl Table {
        fn rows_in(
            &self,
            from: i64,
            upto: i64,
            rows: usize,
            keep: &mut (dyn FnMut(RowRef<'_>) + Send),
        ) -> Result<(), Error> {
            let found = self.positions.iter().filter(|&&p| from < p && p <= upto);
            for (count, &position) in found.take(rows).enumerate() {
                if self.fail_after == Some(from) && count == self.rows_before_failure {
                    return Err(Error::Config(format!("the range after {from} failed")));
                }
                keep(row_ref(&row(position)));
            }
            Ok(())
        }
    }

    impl FetchRows for Table {
        async fn fetch_rows(
            &self,
            _: &[&str],
            _: Cursor,
            _: usize,
            _: &mut (dyn FnMut(RowRef<'_>) + Send),
        ) -> Result<usize, Error> {
            Err(Error::Config("reads go through ranges".to_owned()))
        }

        async fn read_ahead(self, streams: Vec<String>, after: Cursor, outbox: Outbox) {
            read_by_ranges(self, streams, after, outbox).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sparse_rows_then_a_dense_run_read_whole_in_order_in_few_queries() {
        // One row every 1,000 positions up to 200,000, then 1,000 in a row, then one every
        // 1,000 again: the wide range that meets the dense run is cut short by its limit, and
        // ranges follow it.
        let sparse = (1..=200).map(|n| n * 1_000);
        let sparse_again = (202..=400).map(|n| n * 1_000);
        let table = Table {
            positions: Arc::new(
                sparse
                    .chain(200_001..=201_000)
                    .chain(sparse_again)
                    .collect(),
            ),
            settled: 400_000,
            spare: true,
            ..Table::default()
        };
        // Pages of 10: queries of 320 rows, ranges from 320 positions.
        let seen = read_all(&ReadAhead::default(), &table, 10).await.unwrap();
        assert_eq!(seen, *table.positions);
        // Ranges of a fixed 320 positions take 1,279 queries; widening ranges took 31 (each
        // sparse stretch in about a dozen, the dense run a query per 320 rows, and the ranges
        // dropped after one cut short by the limit).
        let queries = table.queries.lock().unwrap().len();
        assert!(queries <= 60, "{queries} queries");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_range_comes_after_the_rows_of_the_ranges_before_it() {
        let table = Table {
            positions: Arc::new((1..=2_000).collect()),
            settled: 2_000,
            spare: true,
            fail_after: Some(640),
            rows_before_failure: 5,
            ..Table::default()
        };
        let (seen, error) = read_all(&ReadAhead::default(), &table, 10)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("after 640 failed"), "{error}");
        // Every page of the first two ranges (320 rows each), none after the failure (the
        // third range's 5 rows make no page; the range after it, already running, is not
        // used).
        assert_eq!(seen, (1..=640).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_waits_for_room_and_stops_once_its_chain_is_dropped() {
        let table = Table {
            positions: Arc::new((1..=100_000).collect()),
            settled: 100_000,
            spare: true,
            ..Table::default()
        };
        let ahead = ReadAhead::default();
        let page = ahead.page(&table, &["s"], Cursor::START, 10).await.unwrap();
        assert_eq!(positions(page.unwrap()), (1..=10).collect::<Vec<_>>());
        // Time for a reader that did not wait to read on. This one starts the first two
        // ranges, a third once the first page is taken (310 rows left, fewer than a query's
        // 320), and then waits: 630 rows wait to be handed out.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(table.queries.lock().unwrap().len(), 3);
        drop(ahead);
        released(
            &table.queries,
            "the reader and its ranges stop once the chain is dropped",
        )
        .await;
        assert_eq!(table.queries.lock().unwrap().len(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ranges_overlap_only_while_the_pool_has_a_connection_to_spare() {
        for spare in [true, false] {
            let table = Table {
                positions: Arc::new((1..=2_000).collect()),
                settled: 2_000,
                spare,
                query_time: Duration::from_millis(50),
                ..Table::default()
            };
            let seen = read_all(&ReadAhead::default(), &table, 10).await.unwrap();
            assert_eq!(seen, *table.positions);
            let most = table.running.lock().unwrap().1;
            // With a connection to spare, the next range's query (50 ms) starts while the
            // first one's runs; without, one after the other.
            assert_eq!(most, if spare { 2 } else { 1 }, "spare: {spare}");
        }
    }
}
