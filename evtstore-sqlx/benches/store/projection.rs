//! Issue 8, catch-up into a table: a stream of its own filled with [`EVENTS`] events, then a
//! read-model table written with one row per event, three ways in the same run: a plain
//! handler whose model INSERTs each row through the pool (autocommit), a transactional
//! projection that INSERTs it through the page's transaction, and a hand-written projector (one
//! streamed SELECT, a transaction per [`PAGE_SIZE`] rows). Also the two handlers with a model
//! that writes nothing: what the engine costs around the rows.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use evtstore::{Aggregate, Domain};

use crate::ledger::{
    EntryCommands, LedgerEvent, NoRows, PooledRows, ProjectedRows, ReadModelStore,
};
use crate::measure::{Lines, fresh, report_versus, rounds, runs, scale};

/// Events in the stream, before `EVTSTORE_BENCH_SCALE`.
const EVENTS: usize = 100_000;

/// Events per page of the handlers, and rows per transaction of the baseline.
const PAGE_SIZE: usize = 500;

/// The plain sqlx projector of one backend.
pub(crate) trait TableBaseline: Clone + Send + Sync + 'static {
    /// One streamed SELECT of `stream` ordered by position, decoded; each event's row is
    /// inserted with `insert`, `page_size` rows per transaction. The number of rows.
    fn project_all(
        &self,
        stream: &str,
        insert: &Arc<str>,
        page_size: usize,
    ) -> impl Future<Output = usize> + Send;
}

/// `TableBaseline` for a backend's baseline (a tuple struct of its pool), with its streamed
/// SELECT of the six event columns (`position, stream, aggregate_id, version, timestamp,
/// event`, the first bound to the stream).
macro_rules! table_baseline {
    ($baseline:ty, select = $select:expr) => {
        impl $crate::projection::TableBaseline for $baseline {
            async fn project_all(
                &self,
                stream: &str,
                insert: &::std::sync::Arc<str>,
                page_size: usize,
            ) -> usize {
                use ::evtstore_sqlx::sqlx::{self, Row};
                use ::futures_util::TryStreamExt;
                let mut rows = sqlx::query($select).bind(stream).fetch(&self.0);
                let mut page = Vec::with_capacity(page_size);
                let mut written = 0;
                loop {
                    let row = rows.try_next().await.expect("baseline stream");
                    if let Some(row) = &row {
                        let (position, _, aggregate_id, _, _): (i64, &str, String, i64, i64) =
                            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
                        let amount = $crate::projection::amount(row.get(5));
                        page.push((position, aggregate_id, amount));
                    }
                    if page.len() == page_size || (row.is_none() && !page.is_empty()) {
                        written += page.len();
                        let mut transaction = self.0.begin().await.expect("baseline begin");
                        for (position, aggregate_id, amount) in page.drain(..) {
                            sqlx::query(sqlx::AssertSqlSafe(::std::sync::Arc::clone(insert)))
                                .bind(position)
                                .bind(aggregate_id)
                                .bind(amount)
                                .execute(&mut *transaction)
                                .await
                                .expect("baseline insert");
                        }
                        transaction.commit().await.expect("baseline commit");
                    }
                    if row.is_none() {
                        return written;
                    }
                }
            }
        }
    };
}
pub(crate) use table_baseline;

/// A stored entry's amount, decoded as the handlers decode it.
pub(crate) fn amount(json: &str) -> i64 {
    let LedgerEvent::Entered { amount, .. } =
        serde_json::from_str(json).expect("a stored entry does not decode");
    amount
}

/// A table name no other measurement of this run uses.
fn fresh_table() -> String {
    fresh("read_model").replace('-', "_")
}

/// Fills the ledger stream, then times the plain handler, the transactional projection and
/// the baseline, each writing a fresh table under a fresh bookmark, and both handlers with a
/// model that writes nothing, alternating; prints each handler against the baseline, the
/// projection against the plain handler, and the two engines alone.
pub(crate) async fn catch_up_into_table<S: ReadModelStore, B: TableBaseline>(
    backend: &str,
    store: S,
    baseline: B,
) {
    if !runs(Lines::Projection) {
        return;
    }
    let count = EVENTS * scale();
    let domain = Domain::new(store.clone());
    let entries = domain.commands(EntryCommands);
    let prefix = fresh("entries");
    for n in 0..count.div_ceil(1000) {
        let events = 1000.min(count - n * 1000);
        entries
            .execute(&format!("{prefix}-{n}"), &events)
            .await
            .expect("fill");
    }
    // As in the catch-up line: the statistics autovacuum would soon gather.
    store.analyze().await;
    let [mut plain, mut projected, mut base] = [Duration::MAX; 3];
    let [mut plain_alone, mut projected_alone] = [Duration::MAX; 2];
    for _ in 0..rounds() {
        plain = plain.min(plain_handler(&domain, &store, count).await);
        projected = projected.min(projection(&domain, &store, count).await);
        base = base.min(hand_written(&store, &baseline, count).await);
        plain_alone = plain_alone.min(engine_alone(&domain, count, Registration::Stream).await);
        projected_alone =
            projected_alone.min(engine_alone(&domain, count, Registration::Project).await);
    }
    let scenario = "catch-up into a table";
    report_versus(
        backend,
        &format!("{scenario}: plain handler (pooled INSERT per event) against plain sqlx"),
        ("plain handler", "plain sqlx"),
        (plain, base),
        count,
    );
    report_versus(
        backend,
        &format!("{scenario}: transactional projection against plain sqlx"),
        ("projection", "plain sqlx"),
        (projected, base),
        count,
    );
    report_versus(
        backend,
        &format!("{scenario}: transactional projection against plain handler"),
        ("projection", "plain handler"),
        (projected, plain),
        count,
    );
    // What the engine costs around the rows: the same handlers with models that write
    // nothing. The projection's pages still run in a transaction that moves the bookmark, and
    // it reads the next page only once the last one has committed.
    report_versus(
        backend,
        &format!("{scenario}: engine alone (models that write nothing), projection against plain"),
        ("projection", "plain handler"),
        (projected_alone, plain_alone),
        count,
    );
}

/// How a handler registers the ledger stream.
#[derive(Clone, Copy, Debug)]
enum Registration {
    Stream,
    Project,
}

/// A handler whose model writes nothing, registered either way.
async fn engine_alone<S: ReadModelStore>(
    domain: &Domain<S>,
    count: usize,
    registration: Registration,
) -> Duration {
    let builder = domain.handler(fresh("into-nothing"), NoRows);
    let handler = match registration {
        Registration::Stream => builder.stream::<LedgerEvent>(),
        Registration::Project => builder.project::<LedgerEvent>(),
    }
    .page_size(PAGE_SIZE)
    .build();
    let start = Instant::now();
    let handled = handler.run_once().await.expect("engine alone");
    let elapsed = start.elapsed();
    assert_eq!(handled, count);
    elapsed
}

async fn plain_handler<S: ReadModelStore>(domain: &Domain<S>, store: &S, count: usize) -> Duration {
    let table = fresh_table();
    store.create_table(&table).await;
    let model = PooledRows {
        store: store.clone(),
        insert: S::insert_sql(&table),
    };
    let handler = domain
        .handler(fresh("into-table-plain"), model)
        .stream::<LedgerEvent>()
        .page_size(PAGE_SIZE)
        .build();
    let start = Instant::now();
    let handled = handler.run_once().await.expect("plain handler");
    let elapsed = start.elapsed();
    assert_eq!(handled, count);
    assert_eq!(store.count_and_drop(&table).await, count);
    elapsed
}

async fn projection<S: ReadModelStore>(domain: &Domain<S>, store: &S, count: usize) -> Duration {
    let table = fresh_table();
    store.create_table(&table).await;
    let model = ProjectedRows {
        insert: S::insert_sql(&table),
    };
    let handler = domain
        .handler(fresh("into-table-projection"), model)
        .project::<LedgerEvent>()
        .page_size(PAGE_SIZE)
        .build();
    let start = Instant::now();
    let handled = handler.run_once().await.expect("projection");
    let elapsed = start.elapsed();
    assert_eq!(handled, count);
    assert_eq!(store.count_and_drop(&table).await, count);
    elapsed
}

async fn hand_written<S: ReadModelStore, B: TableBaseline>(
    store: &S,
    baseline: &B,
    count: usize,
) -> Duration {
    let table = fresh_table();
    store.create_table(&table).await;
    let insert = S::insert_sql(&table);
    let start = Instant::now();
    let written = baseline
        .project_all(LedgerEvent::STREAM, &insert, PAGE_SIZE)
        .await;
    let elapsed = start.elapsed();
    assert_eq!(written, count);
    assert_eq!(store.count_and_drop(&table).await, count);
    elapsed
}
