//! SQLite: a WAL file with `synchronous=NORMAL`, the store's default; the baseline has a pool
//! of its own on the same file.

use std::str::FromStr;

use evtstore_sqlx::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use evtstore_sqlx::sqlx::{self, AssertSqlSafe, Row};
use evtstore_sqlx::{SqliteStore, Synchronous, Tables};

use crate::counter::{Counter, amount, decode, fold_counter};
use crate::latency::{AcrossObjects, latency};
use crate::ledger::read_model_store;
use crate::measure::{Lines, runs};
use crate::now_millis;
use crate::projection::{catch_up_into_table, table_baseline};
use crate::scenarios::{
    Analyze, Baseline, STORE_QUERY_ROWS, Targets, catch_up, checked_event_row, on_default_tables,
    scenarios,
};
use crate::takeover::takeover;

/// One stream's events in position order, as the store reads them.
const STREAM_ALL: &str = "SELECT position, stream, aggregate_id, version, timestamp, event \
     FROM events WHERE stream = ?1 ORDER BY position";

#[derive(Clone, Debug)]
struct SqliteBaseline(sqlx::SqlitePool);

read_model_store!(SqliteStore, sqlx::Sqlite, values = "(?1, ?2, ?3)");
table_baseline!(SqliteBaseline, select = STREAM_ALL);

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
        let statement = on_default_tables(include_str!("../../src/sql/sqlite/read.sql"));
        let streams = serde_json::to_string(&[stream]).expect("stream names");
        let (mut position, mut count) = (0_i64, 0);
        loop {
            let mut rows = sqlx::query(AssertSqlSafe(statement.as_str()))
                .bind(position)
                .bind(&streams)
                .bind(STORE_QUERY_ROWS)
                .fetch(&self.0);
            let mut page = 0;
            while let Some(row) = rows.try_next().await.expect("baseline page") {
                let (at, counted) = checked_event_row(&row);
                (position, count, page) = (at, count + counted, page + 1);
            }
            if page < STORE_QUERY_ROWS {
                return count;
            }
        }
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

/// Every scenario, on a database file of its own that is removed at the end.
pub(crate) async fn run(catch_up_events: usize) {
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
        .synchronous(SqliteSynchronous::Normal)
        // The connection setting the store's own pool uses.
        .row_buffer_size(SqliteStore::ROW_BUFFER);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .expect("SQLite baseline pool");
    let baseline = SqliteBaseline(pool);
    scenarios(
        "SQLite",
        store.clone(),
        baseline.clone(),
        Targets::default(),
    )
    .await;
    catch_up("SQLite", store.clone(), baseline.clone(), catch_up_events).await;
    catch_up_into_table("SQLite", store.clone(), baseline).await;
    takeover("SQLite", store.clone()).await;
    if runs(Lines::Latency) {
        // A second store object on the same file, with a pool of its own, as another process
        // would open it: its appends do not wake the first object's handlers.
        let other = SqliteStore::connect_with(&url, Tables::default(), Synchronous::Normal)
            .await
            .expect("SQLite");
        latency("SQLite", store, other, AcrossObjects::Poll, None).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
