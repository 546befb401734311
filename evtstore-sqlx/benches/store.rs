//! The evtstore sqlx stores against plain sqlx baselines on the same schema, in the same run,
//! on SQLite (a WAL file, `synchronous=NORMAL`) and PostgreSQL. Prints one line per scenario
//! with both measurements and their ratio against the target.
//!
//! ```text
//! cargo bench -p evtstore-sqlx --bench store
//! EVTSTORE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test   (the default)
//! EVTSTORE_BENCH_SCALE=1   (multiplies the counts; the default keeps a run near two minutes)
//! ```
//!
//! Each measurement runs three times, alternating store and baseline, and keeps the fastest run.

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use evtstore::{
    Agg, Aggregate, CommandResult, CommandSet, Domain, DomainOptions, EventMeta, HandledBy,
    HandlerResult, Snapshots, Store,
};
use evtstore_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use evtstore_sqlx::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use evtstore_sqlx::sqlx::{self, AssertSqlSafe, Connection, Row};
use evtstore_sqlx::{PgStore, SqliteStore, Synchronous, Tables};
use serde::{Deserialize, Serialize};

/// A counter: the aggregate every scenario uses.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Counted {
    Added { amount: i64, note: String },
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Counter {
    total: i64,
    count: u64,
}

fn fold_counter(state: &mut Counter, event: &Counted) {
    let Counted::Added { amount, .. } = event;
    state.total += amount;
    state.count += 1;
}

impl Aggregate for Counted {
    type State = Counter;
    const STREAM: &'static str = "counters";
    const EVENT_TYPES: &'static [&'static str] = &["added"];

    fn event_type(&self) -> &'static str {
        "added"
    }

    fn fold(state: &mut Counter, event: &Self) {
        fold_counter(state, event);
    }
}

/// The same events in another stream, with snapshots.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct SnapCounted(Counted);

impl Aggregate for SnapCounted {
    type State = Counter;
    const STREAM: &'static str = "snap_counters";
    const EVENT_TYPES: &'static [&'static str] = &["added"];
    const SNAPSHOTS: Option<Snapshots<Counter>> = Some(Snapshots::json("v1"));

    fn event_type(&self) -> &'static str {
        "added"
    }

    fn fold(state: &mut Counter, event: &Self) {
        fold_counter(state, &event.0);
    }
}

fn added(n: usize) -> Counted {
    Counted::Added {
        amount: 1,
        note: format!("event number {n}"),
    }
}

/// `Add(n)` appends n events.
struct CounterCommands;

impl CommandSet for CounterCommands {
    type Aggregate = Counted;
    type Command = usize;

    async fn decide(&self, _: &Agg<Counter>, count: &usize) -> CommandResult<Counted> {
        Ok((0..*count).map(added).collect())
    }
}

struct SnapCommands;

impl CommandSet for SnapCommands {
    type Aggregate = SnapCounted;
    type Command = usize;

    async fn decide(&self, _: &Agg<Counter>, count: &usize) -> CommandResult<SnapCounted> {
        Ok((0..*count).map(|n| SnapCounted(added(n))).collect())
    }
}

/// A read model that only counts.
#[derive(Default)]
struct Count(AtomicUsize);

impl HandledBy<Count> for Counted {
    async fn dispatch(model: &Count, _: &str, event: &Self, _: &EventMeta) -> HandlerResult {
        let Counted::Added { amount, .. } = event;
        model
            .0
            .fetch_add(usize::try_from(*amount)?, Ordering::Relaxed);
        Ok(())
    }
}

/// The plain sqlx baseline of one backend, on the store's tables.
trait Baseline: Clone + Send + Sync + 'static {
    /// `INSERT .. SELECT max(version) + 1`: one statement per command.
    fn append_one(&self, id: &str, json: String) -> impl Future<Output = ()> + Send;
    /// One multi-row INSERT of a batch.
    fn append_batch(&self, id: &str, jsons: Vec<String>) -> impl Future<Output = ()> + Send;
    /// One SELECT ordered by version, decoded and folded.
    fn load(&self, id: &str) -> impl Future<Output = Counter> + Send;
    /// One streamed SELECT of a stream ordered by position, decoded; the number of events.
    fn stream_all(&self, stream: &str) -> impl Future<Output = usize> + Send;
}

fn now_millis() -> i64 {
    evtstore::Timestamp::now().as_millis()
}

fn decode(json: &str) -> Counted {
    serde_json::from_str(json).expect("a stored event does not decode")
}

#[derive(Clone)]
struct PgBaseline(sqlx::PgPool);

impl Baseline for PgBaseline {
    async fn append_one(&self, id: &str, json: String) {
        sqlx::query(
            "INSERT INTO events (stream, aggregate_id, version, timestamp, event) \
             SELECT 'counters', $1, COALESCE(MAX(version), 0) + 1, \
                    to_timestamp($2::float8 / 1000), $3 \
             FROM events WHERE stream = 'counters' AND aggregate_id = $1",
        )
        .bind(id)
        .bind(now_millis())
        .bind(json)
        .execute(&self.0)
        .await
        .expect("baseline append");
    }

    async fn append_batch(&self, id: &str, jsons: Vec<String>) {
        let versions: Vec<i64> = (1..=jsons.len() as i64).collect();
        sqlx::query(
            "INSERT INTO events (stream, aggregate_id, version, timestamp, event) \
             SELECT 'counters', $1, v, to_timestamp($2::float8 / 1000), e \
             FROM UNNEST($3::bigint[], $4::text[]) AS t(v, e)",
        )
        .bind(id)
        .bind(now_millis())
        .bind(versions)
        .bind(jsons)
        .execute(&self.0)
        .await
        .expect("baseline batch");
    }

    async fn load(&self, id: &str) -> Counter {
        let rows = sqlx::query(
            "SELECT event FROM events WHERE stream = 'counters' AND aggregate_id = $1 \
             ORDER BY version",
        )
        .bind(id)
        .fetch_all(&self.0)
        .await
        .expect("baseline load");
        let mut counter = Counter::default();
        for row in rows {
            fold_counter(&mut counter, &decode(row.get::<&str, _>(0)));
        }
        counter
    }

    async fn stream_all(&self, stream: &str) -> usize {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT position, stream, aggregate_id, version::bigint, \
                    (EXTRACT(EPOCH FROM timestamp) * 1000)::bigint, event \
             FROM events WHERE stream = $1 ORDER BY position",
        )
        .bind(stream)
        .fetch(&self.0);
        let mut count = 0;
        while let Some(row) = rows.try_next().await.expect("baseline stream") {
            let _: (i64, String, String, i64, i64) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            let Counted::Added { amount, .. } = decode(row.get::<&str, _>(5));
            count += usize::try_from(amount).unwrap_or(0);
        }
        count
    }
}

#[derive(Clone)]
struct SqliteBaseline(sqlx::SqlitePool);

impl Baseline for SqliteBaseline {
    async fn append_one(&self, id: &str, json: String) {
        sqlx::query(
            "INSERT INTO events (stream, aggregate_id, version, timestamp, event) \
             SELECT 'counters', ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3 \
             FROM events WHERE stream = 'counters' AND aggregate_id = ?1",
        )
        .bind(id)
        .bind(now_millis())
        .bind(json)
        .execute(&self.0)
        .await
        .expect("baseline append");
    }

    async fn append_batch(&self, id: &str, jsons: Vec<String>) {
        let rows = vec!["('counters', ?, ?, ?, ?)"; jsons.len()].join(", ");
        let sql = format!(
            "INSERT INTO events (stream, aggregate_id, version, timestamp, event) VALUES {rows}"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        let millis = now_millis();
        for (version, json) in (1_i64..).zip(jsons) {
            query = query
                .bind(id.to_owned())
                .bind(version)
                .bind(millis)
                .bind(json);
        }
        query.execute(&self.0).await.expect("baseline batch");
    }

    async fn load(&self, id: &str) -> Counter {
        let rows = sqlx::query(
            "SELECT event FROM events WHERE stream = 'counters' AND aggregate_id = ?1 \
             ORDER BY version",
        )
        .bind(id)
        .fetch_all(&self.0)
        .await
        .expect("baseline load");
        let mut counter = Counter::default();
        for row in rows {
            fold_counter(&mut counter, &decode(row.get::<&str, _>(0)));
        }
        counter
    }

    async fn stream_all(&self, stream: &str) -> usize {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT position, stream, aggregate_id, version, timestamp, event \
             FROM events WHERE stream = ?1 ORDER BY position",
        )
        .bind(stream)
        .fetch(&self.0);
        let mut count = 0;
        while let Some(row) = rows.try_next().await.expect("baseline stream") {
            let _: (i64, String, String, i64, i64) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            let Counted::Added { amount, .. } = decode(row.get::<&str, _>(5));
            count += usize::try_from(amount).unwrap_or(0);
        }
        count
    }
}

fn scale() -> usize {
    std::env::var("EVTSTORE_BENCH_SCALE")
        .ok()
        .and_then(|scale| scale.parse().ok())
        .unwrap_or(1)
}

static RUN: AtomicUsize = AtomicUsize::new(0);

/// A prefix no other measurement of this run uses, for aggregate ids.
fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", RUN.fetch_add(1, Ordering::Relaxed))
}

/// The fastest of three runs of each, alternating.
async fn best_of_three<A, B, FA, FB>(mut store: A, mut baseline: B) -> (Duration, Duration)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = Duration>,
    FB: Future<Output = Duration>,
{
    let (mut best_store, mut best_baseline) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        best_store = best_store.min(store().await);
        best_baseline = best_baseline.min(baseline().await);
    }
    (best_store, best_baseline)
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// One result line: throughput ratio (higher is better) or time ratio (lower is better).
fn report(
    backend: &str,
    scenario: &str,
    store: Duration,
    baseline: Duration,
    count: usize,
    target: Target,
) {
    let (ratio, verdict) = match target {
        Target::AtLeast(target) => {
            let ratio = baseline.as_secs_f64() / store.as_secs_f64();
            (ratio, if ratio >= target { "met" } else { "MISSED" })
        }
        Target::AtMost(target) => {
            let ratio = store.as_secs_f64() / baseline.as_secs_f64();
            (ratio, if ratio <= target { "met" } else { "MISSED" })
        }
    };
    println!(
        "| {backend} | {scenario} | {:.0}/s ({:.1} ms) | {:.0}/s ({:.1} ms) | {ratio:.2}x | {target} | {verdict} |",
        per_second(count, store),
        store.as_secs_f64() * 1e3,
        per_second(count, baseline),
        baseline.as_secs_f64() * 1e3,
    );
}

#[derive(Clone, Copy)]
enum Target {
    /// Store throughput at least this fraction of the baseline's.
    AtLeast(f64),
    /// Store time at most this fraction of the baseline's.
    AtMost(f64),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::AtLeast(x) => write!(f, ">= {x}x throughput"),
            Target::AtMost(x) => write!(f, "<= {x}x time"),
        }
    }
}

/// Runs `commands` one-event commands on `tasks` tasks, each on its own aggregate.
async fn store_commands<S: Store>(store: &S, tasks: usize, commands: usize) -> Duration {
    let domain = Domain::new(store.clone());
    let prefix = fresh("store");
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let counters = domain.commands(CounterCommands);
            let id = format!("{prefix}-{task}");
            tokio::spawn(async move {
                for _ in 0..commands / tasks {
                    counters.execute(&id, &1).await.expect("command");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    start.elapsed()
}

async fn baseline_commands<B: Baseline>(baseline: &B, tasks: usize, commands: usize) -> Duration {
    let prefix = fresh("base");
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let baseline = baseline.clone();
            let id = format!("{prefix}-{task}");
            tokio::spawn(async move {
                for n in 0..commands / tasks {
                    let json = serde_json::to_string(&added(n)).expect("encode");
                    baseline.append_one(&id, json).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    start.elapsed()
}

/// Options without the aggregate cache, so that every load reads the store.
fn uncached_options() -> DomainOptions {
    DomainOptions {
        cache_capacity: 0,
        ..DomainOptions::default()
    }
}

async fn scenarios<S: Store, B: Baseline>(backend: &str, store: S, baseline: B) {
    if std::env::var("EVTSTORE_BENCH_ONLY").is_ok_and(|only| only != "appends") {
        return;
    }
    let scale = scale();

    let commands = 2000 * scale;
    let (s, b) = best_of_three(
        || store_commands(&store, 1, commands),
        || baseline_commands(&baseline, 1, commands),
    )
    .await;
    report(
        backend,
        "one-event commands, sequential",
        s,
        b,
        commands,
        Target::AtLeast(0.9),
    );

    let commands = 4000 * scale;
    let (s, b) = best_of_three(
        || store_commands(&store, 8, commands),
        || baseline_commands(&baseline, 8, commands),
    )
    .await;
    report(
        backend,
        "one-event commands, 8 tasks",
        s,
        b,
        commands,
        Target::AtLeast(0.9),
    );

    let batches = 10 * scale;
    let (s, b) = best_of_three(
        || async {
            let counters = Domain::new(store.clone()).commands(CounterCommands);
            let prefix = fresh("batch");
            let start = Instant::now();
            for n in 0..batches {
                counters
                    .execute(&format!("{prefix}-{n}"), &1000)
                    .await
                    .expect("batch");
            }
            start.elapsed()
        },
        || async {
            let prefix = fresh("basebatch");
            let start = Instant::now();
            for n in 0..batches {
                let jsons = (0..1000)
                    .map(|i| serde_json::to_string(&added(i)).expect("encode"))
                    .collect();
                baseline.append_batch(&format!("{prefix}-{n}"), jsons).await;
            }
            start.elapsed()
        },
    )
    .await;
    report(
        backend,
        "command of 1,000 events",
        s,
        b,
        batches * 1000,
        Target::AtLeast(0.5),
    );

    // Loading an aggregate of 1,000 events, without the cache.
    let uncached = Domain::with_options(store.clone(), uncached_options());
    let big = fresh("big");
    uncached
        .commands(CounterCommands)
        .execute(&big, &1000)
        .await
        .expect("big");
    let snap = fresh("snap");
    uncached
        .commands(SnapCommands)
        .execute(&snap, &1000)
        .await
        .expect("snap");
    let base_big = fresh("basebig");
    baseline
        .append_batch(
            &base_big,
            (0..1000)
                .map(|i| serde_json::to_string(&added(i)).expect("encode"))
                .collect(),
        )
        .await;
    let loads = 20 * scale;
    let (s, b) = best_of_three(
        || async {
            let start = Instant::now();
            for _ in 0..loads {
                let agg = uncached.load::<Counted>(&big).await.expect("load");
                assert_eq!(agg.count, 1000);
            }
            start.elapsed()
        },
        || async {
            let start = Instant::now();
            for _ in 0..loads {
                assert_eq!(baseline.load(&base_big).await.count, 1000);
            }
            start.elapsed()
        },
    )
    .await;
    report(
        backend,
        "load 1,000 events",
        s,
        b,
        loads,
        Target::AtMost(1.1),
    );
    let (s, b) = best_of_three(
        || async {
            let start = Instant::now();
            for _ in 0..loads {
                let agg = uncached.load::<SnapCounted>(&snap).await.expect("load");
                assert_eq!(agg.count, 1000);
            }
            start.elapsed()
        },
        || async {
            let start = Instant::now();
            for _ in 0..loads {
                assert_eq!(baseline.load(&base_big).await.count, 1000);
            }
            start.elapsed()
        },
    )
    .await;
    report(
        backend,
        "load 1,000 events, snapshot",
        s,
        b,
        loads,
        Target::AtMost(0.1),
    );
}

/// Refreshes the planner's statistics.
trait Analyze {
    fn analyze(&self) -> impl Future<Output = ()> + Send;
}

impl Analyze for PgStore {
    async fn analyze(&self) {
        sqlx::raw_sql("ANALYZE")
            .execute(self.pool())
            .await
            .expect("ANALYZE");
    }
}

impl Analyze for SqliteStore {
    async fn analyze(&self) {
        sqlx::raw_sql("ANALYZE")
            .execute(self.pool())
            .await
            .expect("ANALYZE");
    }
}

/// Fills a stream of its own with `count` events for the catch-up scenario.
async fn catch_up<S: Store + Analyze, B: Baseline>(
    backend: &str,
    store: S,
    baseline: B,
    count: usize,
) {
    let domain = Domain::new(store.clone());
    let counters = domain.commands(CounterCommands);
    for n in 0..count / 1000 {
        counters
            .execute(&format!("catchup-{n}"), &1000)
            .await
            .expect("fill");
    }
    // What autovacuum does soon after a bulk load: without statistics PostgreSQL's planner
    // cannot tell that the handler's stream is most of the table, and sorts every page.
    store.analyze().await;
    let (s, b) = best_of_three(
        || async {
            let handler = domain
                .handler(fresh("catch-up"), Count::default())
                .stream::<Counted>()
                .build();
            let start = Instant::now();
            let handled = handler.run_once().await.expect("catch up");
            let elapsed = start.elapsed();
            assert!(handled >= count);
            elapsed
        },
        || async {
            let start = Instant::now();
            let seen = baseline.stream_all("counters").await;
            let elapsed = start.elapsed();
            assert!(seen >= count);
            elapsed
        },
    )
    .await;
    report(
        backend,
        "handler catch-up",
        s,
        b,
        count,
        Target::AtLeast(0.8),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Run by `cargo test --benches` too: then only check that it starts.
    if std::env::args().any(|arg| arg == "--test") {
        return;
    }
    println!("| backend | scenario | evtstore | plain sqlx | ratio | target | |");
    println!("|---|---|---|---|---|---|---|");
    let catch_up_events = 100_000 * scale();

    // SQLite: a WAL file with synchronous=NORMAL, the store's default.
    let dir = std::env::temp_dir().join(format!("evtstore-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench folder");
    let url = format!("sqlite:{}", dir.join("bench.db").display());
    let store = SqliteStore::connect_with(&url, Tables::default(), Synchronous::Normal)
        .await
        .expect("SQLite");
    store.migrate().await.expect("migrate");
    let options = SqliteConnectOptions::from_str(&url)
        .expect("url")
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .expect("SQLite baseline pool");
    let baseline = SqliteBaseline(pool);
    scenarios("SQLite", store.clone(), baseline.clone()).await;
    catch_up("SQLite", store, baseline, catch_up_events).await;
    let _ = std::fs::remove_dir_all(&dir);

    // PostgreSQL, in a schema of its own.
    let url = std::env::var("EVTSTORE_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let options = PgConnectOptions::from_str(&url).expect("EVTSTORE_BENCH_POSTGRES_URL");
    let mut admin = sqlx::PgConnection::connect_with(&options)
        .await
        .unwrap_or_else(|error| panic!("PostgreSQL at {url} does not answer: {error}"));
    let schema = format!("evtstore_bench_{}", std::process::id());
    let unsafe_schema = format!("{schema}_nogap");
    for name in [&schema, &unsafe_schema] {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        )))
        .execute(&mut admin)
        .await
        .expect("bench schema");
    }
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(options.clone().options([("search_path", schema.as_str())]))
        .await
        .expect("PostgreSQL pool");
    let store = PgStore::from_pool(pool.clone(), Tables::default());
    store.migrate().await.expect("migrate");
    let baseline = PgBaseline(pool);
    scenarios("PostgreSQL", store.clone(), baseline.clone()).await;
    catch_up("PostgreSQL", store.clone(), baseline, catch_up_events).await;

    // The cost of gap safety: the same store on tables without the txid column and its index,
    // reading in position order.
    let unsafe_pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(options.options([("search_path", unsafe_schema.as_str())]))
        .await
        .expect("PostgreSQL pool");
    // The store's schema (see src/sql/postgres/migrate.sql) less the txid column and index.
    sqlx::raw_sql(
        "CREATE TABLE events (position BIGSERIAL PRIMARY KEY, version BIGINT NOT NULL, \
           stream VARCHAR(255) NOT NULL, aggregate_id VARCHAR(255) NOT NULL, \
           timestamp TIMESTAMPTZ NOT NULL, event TEXT NOT NULL, metadata TEXT); \
         CREATE UNIQUE INDEX events_stream_aggregate_id_version_unique \
           ON events (stream, aggregate_id, version); \
         CREATE TABLE bookmarks (bookmark VARCHAR(255) PRIMARY KEY, position BIGINT NOT NULL, \
           txid BIGINT); \
         CREATE TABLE snapshots (stream VARCHAR(255) NOT NULL, aggregate_id VARCHAR(255) NOT NULL, \
           version BIGINT NOT NULL, tag TEXT NOT NULL, state TEXT NOT NULL, \
           PRIMARY KEY (stream, aggregate_id))",
    )
    .execute(&unsafe_pool)
    .await
    .expect("tables without txid");
    let unsafe_store = PgStore::from_pool(unsafe_pool, Tables::default()).unsafe_position_order();
    let commands = 4000 * scale();
    let (safe, plain) = best_of_three(
        || store_commands(&store, 8, commands),
        || store_commands(&unsafe_store, 8, commands),
    )
    .await;
    let cost = 1.0 - plain.as_secs_f64() / safe.as_secs_f64();
    println!(
        "| PostgreSQL | gap safety cost, one-event commands, 8 tasks | {:.0}/s with | {:.0}/s without | {:.1}% slower | <= 10% | {} |",
        per_second(commands, safe),
        per_second(commands, plain),
        cost * 100.0,
        if cost <= 0.10 { "met" } else { "MISSED" }
    );
    let (safe, plain) = best_of_three(
        || store_commands(&store, 1, commands / 2),
        || store_commands(&unsafe_store, 1, commands / 2),
    )
    .await;
    let cost = 1.0 - plain.as_secs_f64() / safe.as_secs_f64();
    println!(
        "| PostgreSQL | gap safety cost, one-event commands, sequential | {:.0}/s with | {:.0}/s without | {:.1}% slower | <= 10% | {} |",
        per_second(commands / 2, safe),
        per_second(commands / 2, plain),
        cost * 100.0,
        if cost <= 0.10 { "met" } else { "MISSED" }
    );
    for name in [&schema, &unsafe_schema] {
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
            .execute(&mut admin)
            .await;
    }
}
