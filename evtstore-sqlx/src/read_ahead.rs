//! Rows read ahead for handlers catching up, streamed to them a page at a time by a reader in
//! the background: the same for every store whose reads are gap-free when they return
//! (PostgreSQL's bounded snapshot reads, MySQL's reads up to the settled position, SQLite's
//! reads, whose writers commit one at a time in position order), each giving its own
//! [`FetchRows`]: its query, and, where it has a faster way to read on than query after
//! query, its own reader (MySQL's ranges of positions, `mysql/read_ranges.rs`).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use evtstore::{Cursor, Error, PackedRows, Page};
use tokio::sync::{Notify, mpsc};

use crate::common::RowRef;

/// Rows read ahead for handlers catching up. A read that misses starts a reader in the
/// background, which reads many pages' rows per query and sends them on a page at a time as
/// they are decoded, query after query: the handler starts on the first page while the rest of
/// the query is still arriving, and the database, the decoding and the handler all run at
/// once. Reads that follow on (after the last row of the page before, of the same streams) take
/// their pages from it without a round trip.
///
/// This is safe because a gap-free read settles everything up to the last row it returns:
/// nothing can later commit before or among the rows read ahead (on PostgreSQL every row
/// belongs to a transaction older than any still running; on MySQL every row up to the settled
/// position that bounded the read had committed before it began; on SQLite every write
/// transaction commits before the next one takes a position), so they are exactly what
/// the database would return for the next pages; each query of the reader reads on from where
/// the one before ended, so the same holds for all of them, and for any prefix of them.
/// A few chains are kept, one per handler reading, the oldest dropped first (which stops its
/// reader).
///
/// Why a reader that streams, rather than whole queries kept and handed out afterwards: reading
/// 100,000 rows on MariaDB in queries of 16,384, each query's rows collected before the first
/// was used, took 1.56x one streamed `SELECT` of them; the same queries with their rows passed
/// on 500 at a time as they arrived took 1.16x (`BENCHMARKS.md`). Collected rows go cold in the
/// caches before they are used, and the handler waits for a whole query before its first page.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReadAhead(Arc<std::sync::Mutex<VecDeque<Chain>>>);

/// A store's gap-free query, for [`ReadAhead`].
pub(crate) trait FetchRows: Clone + Send + Sync + 'static {
    /// Reads up to `rows` rows after `after`, handing each to `keep` in cursor order as soon as
    /// it is decoded; returns how many there were (as many as `rows`: more may follow).
    fn fetch_rows(
        &self,
        streams: &[&str],
        after: Cursor,
        rows: usize,
        keep: &mut (dyn FnMut(RowRef<'_>) + Send),
    ) -> impl Future<Output = Result<usize, Error>> + Send;

    /// One read of up to `rows` rows after `after`, collected: for reads that are not
    /// gap-free, from which nothing may be kept ahead.
    fn fetch_page(
        &self,
        streams: &[&str],
        after: Cursor,
        rows: usize,
    ) -> impl Future<Output = Result<Page, Error>> + Send {
        async move {
            let room = rows.min(1024);
            let mut page =
                PackedRows::with_capacity(room, room.saturating_mul(PageBuilder::TEXT_PER_ROW));
            self.fetch_rows(streams, after, rows, &mut |row| page.push(row))
                .await?;
            Ok(Page::from(page))
        }
    }

    /// A chain's reader, started in the background after `after`: sends the rows that follow
    /// through `outbox` until it reaches the end of the streams as it sees them, a query fails,
    /// or the chain is dropped. By default [`read_query_after_query`]; a store whose next
    /// query's bounds do not depend on the rows of the one before may run them overlapped.
    ///
    /// A reader of its own must send only rows of gap-free reads, in cursor order, with nothing
    /// missing between them; wait for [`Outbox::room`] before each query after its first;
    /// drain every query it starts whatever the handler does; and finish with [`Outbox::end`]
    /// or [`Outbox::fail`] (an outbox dropped without either reads as the end).
    fn read_ahead(
        self,
        streams: Vec<String>,
        after: Cursor,
        outbox: Outbox,
    ) -> impl Future<Output = ()> + Send {
        read_query_after_query(self, streams, after, outbox)
    }
}

/// What a reader sends to its chain, in order.
#[derive(Debug)]
enum Delivery {
    /// The next rows: a page's worth, or the last rows of a query.
    Rows(PackedRows),
    /// The reader has stopped at the end of the streams as it saw them: the default reader's
    /// last query came back short of full; MySQL's reached the settled position it read first.
    End,
    /// A query failed: the rows sent before it are good, nothing follows.
    Failed(Error),
}

/// Rows kept after `after` for one list of streams, in cursor order, and the reader that sends
/// the ones after them.
#[derive(Debug)]
struct Chain {
    streams: Vec<String>,
    after: Cursor,
    /// The rows received, as the reader sent them: pages of the page size, which a read of
    /// that size takes as they are, and a page that spans two deliveries shares them with the
    /// pages before and after it, without copying its rows.
    events: Page,
    /// The reader's deliveries; `None` once it has stopped.
    incoming: Option<mpsc::UnboundedReceiver<Delivery>>,
    backlog: Arc<Backlog>,
}

/// How many rows a reader has sent that have not been handed out as pages yet, and the signal
/// that some have been: a reader starts its next query only while fewer than one query's rows
/// wait, so that a chain holds a bounded number of rows however slow its handler.
#[derive(Debug, Default)]
struct Backlog {
    rows: AtomicUsize,
    taken: Notify,
}

impl ReadAhead {
    /// How many chains are kept.
    const CHAINS: usize = 8;

    /// How many rows one query of a reader fetches: many pages, within a bound. Reading 100,000
    /// events in pages of 500 took about 10% less time with queries of 16,384 rows than with
    /// queries of 4,096 (fewer queries, each streamed); a chain keeps at most about three
    /// queries' rows (two sent on, one more arriving), a few megabytes of typical events.
    pub(crate) fn rows_for(limit: usize) -> usize {
        limit.saturating_mul(32).min(16384).max(limit)
    }

    fn chains(&self) -> std::sync::MutexGuard<'_, VecDeque<Chain>> {
        // Each change is a single push, pop or replace: a poisoned lock holds consistent data.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes out the chain kept for exactly this read, if any.
    fn take(&self, streams: &[&str], after: Cursor) -> Option<Chain> {
        let mut chains = self.chains();
        let index = chains
            .iter()
            .position(|chain| chain.after == after && chain.streams == streams)?;
        chains.remove(index)
    }

    /// Keeps a chain, replacing one of the same place.
    fn put(&self, chain: Chain) {
        let mut chains = self.chains();
        chains.retain(|kept| kept.streams != chain.streams || kept.after != chain.after);
        while chains.len() >= Self::CHAINS {
            chains.pop_front();
        }
        chains.push_back(chain);
    }

    /// A page of `limit` rows: from the chain read ahead for exactly this read when it holds
    /// (or its reader brings) a full page, else from a new reader started after `after`, whose
    /// further rows are kept for the next reads. `Err` with the rows there were when the new
    /// reader stopped short of a page (the end of the streams as it saw them): the store then
    /// reads the end its own way.
    ///
    /// # Errors
    /// The fetcher's errors, from whichever query brought the rows this page needed.
    pub(crate) async fn page<F: FetchRows>(
        &self,
        fetcher: &F,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> Result<Result<Page, Page>, Error> {
        if let Some(mut chain) = self.take(streams, after) {
            chain.fill(limit).await?;
            if chain.events.len() >= limit {
                let page = chain.take_page(limit);
                self.keep(chain);
                return Ok(Ok(page));
            }
            // Not a full page, and its reader has stopped: the database may have more by now.
        }
        let mut chain = Chain::start(fetcher, streams, after, limit);
        chain.fill(limit).await?;
        if chain.events.len() < limit {
            return Ok(Err(chain.events));
        }
        let page = chain.take_page(limit);
        self.keep(chain);
        Ok(Ok(page))
    }

    /// Keeps a chain for the next read, unless nothing more can come of it.
    fn keep(&self, chain: Chain) {
        if !chain.events.is_empty() || chain.incoming.is_some() {
            self.put(chain);
        }
    }
}

impl Chain {
    /// A chain after `after` whose reader starts at once, sending pages of `limit` rows.
    fn start<F: FetchRows>(fetcher: &F, streams: &[&str], after: Cursor, limit: usize) -> Self {
        let (sender, incoming) = mpsc::unbounded_channel();
        let backlog = Arc::new(Backlog::default());
        let streams: Vec<String> = streams.iter().map(|&stream| stream.to_owned()).collect();
        let outbox = Outbox {
            sender,
            backlog: Arc::clone(&backlog),
            limit,
        };
        tokio::spawn(fetcher.clone().read_ahead(streams.clone(), after, outbox));
        Self {
            streams,
            after,
            events: Page::default(),
            incoming: Some(incoming),
            backlog,
        }
    }

    /// Receives the reader's rows until `limit` are kept or the reader has stopped.
    ///
    /// # Errors
    /// A failed query's error, once the rows sent before it are used up.
    async fn fill(&mut self, limit: usize) -> Result<(), Error> {
        while self.events.len() < limit {
            let Some(incoming) = &mut self.incoming else {
                break;
            };
            match incoming.recv().await {
                Some(Delivery::Rows(rows)) => self.events.append(Page::from(rows)),
                Some(Delivery::Failed(error)) => {
                    self.incoming = None;
                    return Err(error);
                }
                Some(Delivery::End) | None => self.incoming = None,
            }
        }
        Ok(())
    }

    /// Moves out the first `limit` rows (there are that many) and lets the reader know.
    ///
    /// A page usually is one delivery as it came. But a query's last delivery is short (a
    /// query's rows are rarely a whole number of pages, and on MariaDB every range of positions
    /// ends in a short one), and from then on every page spans two deliveries, which it shares
    /// with the page before or after it ([`Page::split_to`]). Copying such pages out into new
    /// buffers cost MariaDB's catch-up three allocations of a page's size per page, each of
    /// which made glibc's allocator first merge every small block freed since.
    fn take_page(&mut self, limit: usize) -> Page {
        let page = self.events.split_to(limit);
        if let Some(last) = page.last_cursor() {
            self.after = last;
        }
        self.backlog.rows.fetch_sub(page.len(), Ordering::Relaxed);
        self.backlog.taken.notify_one();
        page
    }
}

/// Where a chain's reader sends its rows, in cursor order, in pages of the chain's page size
/// (or fewer, at the end of a query).
#[derive(Debug)]
pub(crate) struct Outbox {
    sender: mpsc::UnboundedSender<Delivery>,
    backlog: Arc<Backlog>,
    limit: usize,
}

impl Outbox {
    /// The chain's page size.
    pub(crate) fn page_size(&self) -> usize {
        self.limit
    }

    /// How many rows one query of the reader fetches ([`ReadAhead::rows_for`]).
    pub(crate) fn rows_per_query(&self) -> usize {
        ReadAhead::rows_for(self.limit)
    }

    /// Sends the next rows on to the chain.
    pub(crate) fn send(&self, rows: PackedRows) {
        if rows.is_empty() {
            return;
        }
        self.backlog.rows.fetch_add(rows.len(), Ordering::Relaxed);
        // A closed channel means the chain was dropped: the rows have nowhere to go, and the
        // reader stops at its next `room`.
        let _ = self.sender.send(Delivery::Rows(rows));
    }

    /// Reports a failed query: the rows sent before it are good, nothing follows.
    pub(crate) fn fail(self, error: Error) {
        let _ = self.sender.send(Delivery::Failed(error));
    }

    /// Reports the end of the streams as the reader's last query saw them.
    pub(crate) fn end(self) {
        let _ = self.sender.send(Delivery::End);
    }

    /// Waits while a query's worth of rows sent is still waiting to be handed out, so that a
    /// chain holds a bounded number of rows however slow its handler; `false` once the chain
    /// has been dropped, when the reader should stop.
    pub(crate) async fn room(&self) -> bool {
        let rows = self.rows_per_query();
        while self.backlog.rows.load(Ordering::Relaxed) >= rows {
            tokio::select! {
                () = self.backlog.taken.notified() => {}
                () = self.sender.closed() => return false,
            }
        }
        !self.sender.is_closed()
    }
}

/// Rows packed into pages of a given size as they are decoded.
#[derive(Debug)]
pub(crate) struct PageBuilder {
    limit: usize,
    rows: PackedRows,
}

impl PageBuilder {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            rows: PackedRows::with_capacity(limit, limit.saturating_mul(Self::TEXT_PER_ROW)),
        }
    }

    /// The bytes of text the first page makes room for per row; later pages make room for as
    /// much as the page before took.
    const TEXT_PER_ROW: usize = 128;

    /// Adds a row; the page, once it is full.
    pub(crate) fn push(&mut self, row: RowRef<'_>) -> Option<PackedRows> {
        self.rows.push(row);
        (self.rows.len() >= self.limit).then(|| {
            let next = PackedRows::with_capacity(self.limit, self.rows.text_len());
            std::mem::replace(&mut self.rows, next)
        })
    }

    /// The rows of the last page, not full.
    pub(crate) fn finish(self) -> PackedRows {
        self.rows
    }
}

/// The default reader of a chain: queries of [`ReadAhead::rows_for`] rows, each starting after
/// the last row of the one before, their rows sent on in pages as they are decoded, until a
/// query comes back short of full, one fails, or the chain is dropped. It waits before each
/// query while a query's worth of rows sent is still waiting to be handed out, holding no
/// connection meanwhile; because each query's rows are all received however slowly they are
/// used, a query never keeps the database waiting for its client (MySQL would end it after
/// `net_write_timeout`).
pub(crate) async fn read_query_after_query<F: FetchRows>(
    fetcher: F,
    streams: Vec<String>,
    mut after: Cursor,
    outbox: Outbox,
) {
    let streams: Vec<&str> = streams.iter().map(String::as_str).collect();
    let rows = outbox.rows_per_query();
    loop {
        let mut pages = PageBuilder::new(outbox.page_size());
        let mut last = None;
        let fetched = fetcher
            .fetch_rows(&streams, after, rows, &mut |row| {
                last = Some(row_ref_cursor(&row));
                if let Some(page) = pages.push(row) {
                    outbox.send(page);
                }
            })
            .await;
        outbox.send(pages.finish());
        let next = match fetched {
            Err(error) => return outbox.fail(error),
            Ok(count) if count >= rows => last,
            Ok(_) => None,
        };
        let Some(next) = next else {
            return outbox.end();
        };
        after = next;
        if !outbox.room().await {
            return;
        }
    }
}

/// Where a decoded row stands in the order of the streams.
pub(crate) fn row_ref_cursor(row: &RowRef<'_>) -> Cursor {
    match row {
        Ok(event) => event.cursor,
        Err(unreadable) => unreadable.cursor,
    }
}

/// What the tests of the readers share.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;
    use std::time::Duration;

    use evtstore::{Cursor, Error, Page, ReadRow, RecordedEvent, Timestamp, row_cursor};

    use super::{FetchRows, ReadAhead};
    use crate::common::RowRef;

    /// A readable row of stream `s` at `position`.
    pub(crate) fn row(position: i64) -> ReadRow {
        Ok(RecordedEvent {
            cursor: Cursor {
                commit: 0,
                position,
            },
            stream: "s".to_owned(),
            aggregate_id: "a".to_owned(),
            version: u64::try_from(position).unwrap_or(1),
            timestamp: Timestamp(0),
            event: "{}".to_owned(),
            metadata: None,
        })
    }

    pub(crate) fn positions(page: Page) -> Vec<i64> {
        page.into_iter()
            .map(|row| row_cursor(&row).position)
            .collect()
    }

    /// A row as a store's query hands it over, borrowed.
    pub(crate) fn row_ref(row: &ReadRow) -> RowRef<'_> {
        row.as_ref()
            .map(RecordedEvent::as_row)
            .map_err(Clone::clone)
    }

    /// Reads pages of `limit` from the start until a read comes back short, as a handler does:
    /// the positions read, and with an error those read before it.
    pub(crate) async fn read_all<F: FetchRows>(
        ahead: &ReadAhead,
        fetcher: &F,
        limit: usize,
    ) -> Result<Vec<i64>, (Vec<i64>, Error)> {
        let mut seen = Vec::new();
        let mut after = Cursor::START;
        loop {
            match ahead.page(fetcher, &["s"], after, limit).await {
                Ok(Ok(page)) => {
                    after = page.last_cursor().unwrap();
                    seen.extend(positions(page));
                }
                Ok(Err(short)) => {
                    seen.extend(positions(short));
                    return Ok(seen);
                }
                Err(error) => return Err((seen, error)),
            }
        }
    }

    /// Waits, at most 10 seconds, until `shared` has no other owner: the readers holding
    /// clones of it have stopped.
    pub(crate) async fn released<T>(shared: &Arc<T>, expect: &str) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while Arc::strong_count(shared) > 1 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect(expect);
    }
}

#[cfg(test)]
mod tests {
    //! The chain logic alone, over rows held in memory: the stores' own reads are covered by
    //! the conformance suite on real servers.

    use std::sync::Mutex;
    use std::time::Duration;

    use super::testing::{positions, read_all, released, row, row_ref};
    use super::*;

    /// Rows at positions 1..=len; the query numbered `fail_at` (from 0) fails after handing
    /// over `rows_before_failure` rows.
    #[derive(Clone, Default)]
    struct Rows {
        len: i64,
        fail_at: Option<usize>,
        rows_before_failure: usize,
        /// The `after` of every query, in order.
        queries: Arc<Mutex<Vec<i64>>>,
    }

    impl FetchRows for Rows {
        async fn fetch_rows(
            &self,
            _streams: &[&str],
            after: Cursor,
            rows: usize,
            keep: &mut (dyn FnMut(RowRef<'_>) + Send),
        ) -> Result<usize, Error> {
            let query = {
                let mut queries = self.queries.lock().unwrap();
                queries.push(after.position);
                queries.len() - 1
            };
            let mut count = 0;
            for position in (after.position + 1..=self.len).take(rows) {
                if self.fail_at == Some(query) && count == self.rows_before_failure {
                    return Err(Error::Config(format!("query {query} failed")));
                }
                keep(row_ref(&row(position)));
                count += 1;
            }
            Ok(count)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_follow_on_across_queries_in_order() {
        let rows = Rows {
            len: 2_000,
            ..Rows::default()
        };
        let ahead = ReadAhead::default();
        // 30 does not divide a query's 960 rows: pages straddle queries.
        let seen = read_all(&ahead, &rows, 30).await.unwrap();
        assert_eq!(seen, (1..=2_000).collect::<Vec<_>>());
        // One query per 960 rows, not one per page: 960 + 960 + 80 rows. The last 20 make no
        // full page, and the database may have more by then: they are read again, by a query of
        // their own.
        let queries = rows.queries.lock().unwrap().clone();
        assert_eq!(queries, [0, 960, 1_920, 1_980]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_query_comes_after_the_rows_sent_before_it() {
        let rows = Rows {
            len: 5_000,
            fail_at: Some(1),
            rows_before_failure: 45,
            ..Rows::default()
        };
        let ahead = ReadAhead::default();
        let (seen, error) = read_all(&ahead, &rows, 30).await.unwrap_err();
        assert!(error.to_string().contains("query 1 failed"), "{error}");
        // Every page of the first query, and the whole pages of the second's 45 rows.
        assert_eq!(seen, (1..=990).collect::<Vec<_>>());
        // The next read after the failure starts afresh where the pages ended.
        let page = ahead.page(&rows, &["s"], Cursor::at(990), 30).await;
        assert_eq!(
            positions(page.unwrap().unwrap()),
            (991..=1_020).collect::<Vec<_>>()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_waits_while_a_querys_rows_are_not_taken() {
        let rows = Rows {
            len: 100_000,
            ..Rows::default()
        };
        let ahead = ReadAhead::default();
        let page = ahead.page(&rows, &["s"], Cursor::START, 30).await.unwrap();
        assert_eq!(positions(page.unwrap()), (1..=30).collect::<Vec<_>>());
        // Time for a reader that did not wait to read on; this one stops after its second
        // query (930 rows left of the first, fewer than a query's 960; then 1,890).
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(rows.queries.lock().unwrap().clone(), [0, 960]);
        // Taking pages lets it go on.
        let mut after = Cursor::at(30);
        for _ in 0..40 {
            let page = ahead.page(&rows, &["s"], after, 30).await.unwrap().unwrap();
            after = page.last_cursor().unwrap();
        }
        assert_eq!(after.position, 1_230);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(rows.queries.lock().unwrap().clone(), [0, 960, 1_920]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_chains_stops_their_readers() {
        let rows = Rows {
            len: 100_000,
            ..Rows::default()
        };
        let ahead = ReadAhead::default();
        ahead
            .page(&rows, &["s"], Cursor::START, 30)
            .await
            .unwrap()
            .unwrap();
        drop(ahead);
        // The reader holds a clone of the fetcher until it stops; a waiting reader that missed
        // the drop would hold it forever.
        released(&rows.queries, "the reader stops once its chain is dropped").await;
        assert!(rows.queries.lock().unwrap().len() <= 2);
    }
}
