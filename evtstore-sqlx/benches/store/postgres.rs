//! PostgreSQL, in a schema of its own (`EVTSTORE_BENCH_POSTGRES_URL`); the baseline shares the
//! store's pool. Also the cost of gap safety: the same store on tables without the `txid`
//! column, reading in plain position order; and issue 8's catch-up into a table and takeover.

use std::str::FromStr;

use evtstore_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use evtstore_sqlx::sqlx::{self, AssertSqlSafe, Connection, Row};
use evtstore_sqlx::{PgStore, Tables};

use crate::counter::{Counter, amount, decode, fold_counter};
use crate::latency::{AcrossObjects, PG_TARGET, latency};
use crate::ledger::read_model_store;
use crate::measure::{Lines, best_of_rounds, report_cost, runs, scale};
use crate::now_millis;
use crate::projection::{catch_up_into_table, table_baseline};
use crate::scenarios::{
    Analyze, Baseline, STORE_QUERY_ROWS, Targets, catch_up, on_default_tables, scenarios,
    store_commands,
};
use crate::takeover::takeover;

/// The server the bench uses when `EVTSTORE_BENCH_POSTGRES_URL` is not set.
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One stream's events in position order, with the store's columns as integers.
const STREAM_ALL: &str = "SELECT position, stream, aggregate_id, version::bigint, \
            (EXTRACT(EPOCH FROM timestamp) * 1000)::bigint, event \
     FROM events WHERE stream = $1 ORDER BY position";

#[derive(Clone, Debug)]
struct PgBaseline(sqlx::PgPool);

read_model_store!(PgStore, sqlx::Postgres, values = "($1, $2, $3)");
table_baseline!(PgBaseline, select = STREAM_ALL);

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

    async fn round_trip(&self) {
        sqlx::query("SELECT 1")
            .execute(&self.0)
            .await
            .expect("baseline round trip");
    }

    async fn stream_all(&self, stream: &str) -> usize {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(STREAM_ALL).bind(stream).fetch(&self.0);
        let mut count = 0;
        while let Some(row) = rows.try_next().await.expect("baseline stream") {
            let _: (i64, String, String, i64, i64) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            count += amount(row.get::<&str, _>(5));
        }
        count
    }

    async fn stream_gap_safe_pages(&self, stream: &str) -> usize {
        use futures_util::TryStreamExt;
        let statement = on_default_tables(include_str!("../../src/sql/postgres/read_page.sql"));
        let streams = [stream];
        let (mut commit, mut position, mut count) = (0_i64, 0_i64, 0);
        loop {
            let mut rows = sqlx::query(AssertSqlSafe(statement.as_str()))
                .bind(commit)
                .bind(position)
                .bind(&streams[..])
                .bind(STORE_QUERY_ROWS)
                .fetch(&self.0);
            let mut page = 0;
            while let Some(row) = rows.try_next().await.expect("baseline page") {
                position = row.get(0);
                // The `xid8` and `timestamptz` as their 8-byte binary forms, as the store reads them.
                commit = row.try_get_unchecked(1).expect("xid8");
                let _: (String, String, i64, i64, Option<String>) = (
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    row.try_get_unchecked(5).expect("timestamp"),
                    row.get(7),
                );
                count += amount(row.get::<&str, _>(6));
                page += 1;
            }
            if page < STORE_QUERY_ROWS {
                return count;
            }
        }
    }
}

impl Analyze for PgStore {
    async fn analyze(&self) {
        sqlx::raw_sql("ANALYZE")
            .execute(self.pool())
            .await
            .expect("ANALYZE");
    }
}

/// Every scenario, the gap-safety cost and issue 8's lines, in two schemas of their own dropped
/// at the end.
pub(crate) async fn run(catch_up_events: usize) {
    let url =
        std::env::var("EVTSTORE_BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
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
    // The store's session settings, as `PgStore::connect` sets them, for the pool that the
    // store and the baseline share.
    let schema_options =
        PgStore::session_options(options.clone().options([("search_path", schema.as_str())]));
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(schema_options.clone())
        .await
        .expect("PostgreSQL pool");
    let store = PgStore::from_pool(pool.clone(), Tables::default());
    store.migrate().await.expect("migrate");
    let baseline = PgBaseline(pool);
    scenarios(
        "PostgreSQL",
        store.clone(),
        baseline.clone(),
        Targets::default(),
    )
    .await;
    catch_up(
        "PostgreSQL",
        store.clone(),
        baseline.clone(),
        catch_up_events,
    )
    .await;
    if runs(Lines::CatchUp) {
        gap_safety_cost(&store, options, &unsafe_schema).await;
    }
    catch_up_into_table("PostgreSQL", store.clone(), baseline).await;
    takeover("PostgreSQL", store.clone()).await;
    if runs(Lines::Latency) {
        // A second store object with a pool of its own, as another process would have.
        let other_pool = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(schema_options)
            .await
            .expect("PostgreSQL pool");
        let other = PgStore::from_pool(other_pool, Tables::default());
        latency(
            "PostgreSQL",
            store,
            other,
            AcrossObjects::Wake,
            Some(PG_TARGET),
        )
        .await;
    }
    for name in [&schema, &unsafe_schema] {
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {name} CASCADE")))
            .execute(&mut admin)
            .await;
    }
}

/// The cost of gap safety: the same store on tables without the txid column and its index,
/// reading in position order, in the schema `unsafe_schema`.
async fn gap_safety_cost(store: &PgStore, options: PgConnectOptions, unsafe_schema: &str) {
    let unsafe_pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(options.options([("search_path", unsafe_schema)]))
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
    let times = best_of_rounds(
        || store_commands(store, 8, commands),
        || store_commands(&unsafe_store, 8, commands),
    )
    .await;
    report_cost(
        "PostgreSQL",
        "gap safety cost, one-event commands, 8 tasks",
        ("with", "without"),
        times,
        commands,
        0.10,
    );
    let times = best_of_rounds(
        || store_commands(store, 1, commands / 2),
        || store_commands(&unsafe_store, 1, commands / 2),
    )
    .await;
    report_cost(
        "PostgreSQL",
        "gap safety cost, one-event commands, sequential",
        ("with", "without"),
        times,
        commands / 2,
        0.10,
    );
}
