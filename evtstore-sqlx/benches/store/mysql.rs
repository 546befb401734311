//! MariaDB (or MySQL), in a database of its own (`EVTSTORE_BENCH_MYSQL_URL`); the baseline
//! shares the store's pool, whose sessions run at `READ COMMITTED`. Also the first release's
//! design, a one-row sequence table locked by each append until it commits
//! (`MySqlStore::legacy_sequence_positions`), on a second database, and the store over a pool
//! it was given (`MySqlStore::from_pool`), against the same baseline and against the store.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use evtstore_sqlx::sqlx::mysql::MySqlConnectOptions;
use evtstore_sqlx::sqlx::{self, AssertSqlSafe, ConnectOptions, Connection, Row};
use evtstore_sqlx::{MySqlStore, Tables};

use crate::counter::{Counter, amount, decode, fold_counter};
use crate::latency::{AcrossObjects, latency};
use crate::ledger::read_model_store;
use crate::measure::{Lines, Target, report, report_speedup, rounds, runs, scale};
use crate::projection::{catch_up_into_table, table_baseline};
use crate::scenarios::{
    Analyze, Baseline, STORE_QUERY_ROWS, Targets, baseline_commands, catch_up, checked_event_row,
    on_default_tables, scenarios, store_commands,
};
use crate::takeover::takeover;
use crate::{mysql_profile, now_millis};

/// The server the bench uses when `EVTSTORE_BENCH_MYSQL_URL` is not set.
const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// Issue 7: one-event commands on 8 tasks at 0.7x the baseline's throughput or better.
const EIGHT_TASKS_TARGET: f64 = 0.7;

/// One stream's events in position order, with the store's columns as integers.
const STREAM_ALL: &str = "SELECT CAST(position AS SIGNED), stream, aggregate_id, \
            CAST(version AS SIGNED), CAST(ROUND(UNIX_TIMESTAMP(timestamp) * 1000) AS SIGNED), \
            event \
     FROM events WHERE stream = ? ORDER BY position";

#[derive(Clone, Debug)]
pub(crate) struct MySqlBaseline(pub(crate) sqlx::MySqlPool);

read_model_store!(MySqlStore, sqlx::MySql, values = "(?, ?, ?)");
table_baseline!(MySqlBaseline, select = STREAM_ALL);

impl Baseline for MySqlBaseline {
    async fn append_one(&self, id: &str, json: String) {
        sqlx::query(
            "INSERT INTO events (stream, aggregate_id, version, timestamp, event, metadata) \
             SELECT 'counters', ?, COALESCE(MAX(version), 0) + 1, FROM_UNIXTIME(? / 1000), ?, \
                    NULL \
             FROM events WHERE stream = 'counters' AND aggregate_id = ?",
        )
        .bind(id)
        .bind(now_millis())
        .bind(json)
        .bind(id)
        .execute(&self.0)
        .await
        .expect("baseline append");
    }

    async fn append_batch(&self, id: &str, jsons: Vec<String>) {
        let rows = vec!["('counters', ?, ?, FROM_UNIXTIME(? / 1000), ?)"; jsons.len()].join(", ");
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
            "SELECT event FROM events WHERE stream = 'counters' AND aggregate_id = ? \
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

    /// As the store reads MariaDB (`src/mysql/read_ranges.rs`): the settled position, then
    /// ranges of [`STORE_QUERY_ROWS`] positions up to it, each range's query started on a
    /// connection of its own before the rows of the range before it have all arrived.
    async fn stream_gap_safe_pages(&self, stream: &str) -> usize {
        use futures_util::TryStreamExt;
        let settled = on_default_tables(include_str!("../../src/sql/mysql/settled_position.sql"));
        let read: Arc<str> = on_default_tables(include_str!("../../src/sql/mysql/read.sql"))
            .replace("{streams}", "?")
            // As the store reads one stream (`Sql::with_streams`).
            .replace("{stream_column}", "NULL")
            .into();
        let settled: i64 = sqlx::query_scalar(AssertSqlSafe(settled))
            .fetch_one(&self.0)
            .await
            .expect("settled position");
        let start = |from: i64| {
            let (pool, read, stream) = (self.0.clone(), Arc::clone(&read), stream.to_owned());
            tokio::spawn(async move {
                let upto = (from + STORE_QUERY_ROWS).min(settled);
                let mut rows = sqlx::query(AssertSqlSafe(&*read))
                    .bind(from)
                    .bind(upto)
                    .bind(stream)
                    .bind(STORE_QUERY_ROWS)
                    .fetch(&pool);
                let mut count = 0;
                while let Some(row) = rows.try_next().await.expect("baseline range") {
                    count += checked_event_row(&row).1;
                }
                count
            })
        };
        let (mut from, mut count) = (0, 0);
        let mut next = (from < settled).then(|| start(from));
        while let Some(range) = next.take() {
            from = (from + STORE_QUERY_ROWS).min(settled);
            if from < settled {
                next = Some(start(from));
            }
            count += range.await.expect("range task");
        }
        count
    }
}

impl Analyze for MySqlStore {
    async fn analyze(&self) {
        sqlx::raw_sql("ANALYZE TABLE events")
            .execute(self.pool())
            .await
            .expect("ANALYZE TABLE");
    }
}

/// A store built by `MySqlStore::connect_with`, whose own pool starts its sessions at `READ
/// COMMITTED` (a store over a pool it was given switches each connection first, one more round
/// trip per append and read).
async fn store_on(options: &MySqlConnectOptions, database: &str) -> MySqlStore {
    let url = options
        .clone()
        .database(database)
        .to_url_lossy()
        .to_string();
    MySqlStore::connect_with(&url, Tables::default())
        .await
        .expect("MySQL store")
}

/// Every scenario, then the first release's design and the store over a given pool against the
/// baseline and the store, the catch-up and issue 8's lines, in two databases of their own
/// dropped at the end.
pub(crate) async fn run(catch_up_events: usize) {
    let url = std::env::var("EVTSTORE_BENCH_MYSQL_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let options = MySqlConnectOptions::from_str(&url.replacen("mariadb:", "mysql:", 1))
        .expect("EVTSTORE_BENCH_MYSQL_URL");
    let mut admin = sqlx::MySqlConnection::connect_with(&options)
        .await
        .unwrap_or_else(|error| panic!("MySQL/MariaDB at {url} does not answer: {error}"));
    let (flush, lock_mode, version): (i64, i64, String) = sqlx::query_as(
        "SELECT CAST(@@innodb_flush_log_at_trx_commit AS SIGNED), \
                CAST(@@innodb_autoinc_lock_mode AS SIGNED), CAST(@@version AS CHAR)",
    )
    .fetch_one(&mut admin)
    .await
    .expect("server settings");
    eprintln!(
        "{version}: innodb_flush_log_at_trx_commit = {flush}, innodb_autoinc_lock_mode = {lock_mode}"
    );
    let backend = if version.contains("MariaDB") {
        "MariaDB"
    } else {
        "MySQL"
    };
    // Named as the tests name their databases, so that a run that dies before the end leaves
    // nothing behind for more than an hour (the tests sweep `evt_<seconds>_..`).
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let database = format!("evt_{seconds}_bench_{}", std::process::id());
    let legacy_database = format!("{database}_legacy");
    for name in [&database, &legacy_database] {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}"
        )))
        .execute(&mut admin)
        .await
        .expect("bench database");
    }
    let store = store_on(&options, &database).await;
    store.migrate().await.expect("migrate");
    let baseline = MySqlBaseline(store.pool().clone());
    let targets = Targets {
        eight_tasks: EIGHT_TASKS_TARGET,
    };
    scenarios(backend, store.clone(), baseline.clone(), targets).await;

    if runs(Lines::CatchUp) {
        side_by_side(
            backend,
            &mut admin,
            &options,
            (&database, &legacy_database),
            (&store, &baseline),
        )
        .await;
    }
    catch_up(backend, store.clone(), baseline.clone(), catch_up_events).await;
    catch_up_into_table(backend, store.clone(), baseline).await;
    takeover(backend, store.clone()).await;
    if runs(Lines::Latency) {
        // A second store object with a pool of its own, as another process would have.
        let other = store_on(&options, &database).await;
        latency(backend, store, other, AcrossObjects::Poll, None).await;
    }
    for name in [&database, &legacy_database] {
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {name}")))
            .execute(&mut admin)
            .await;
    }
}

/// Before and after: the first release's sequence table, on tables of its own in
/// `legacy_database` (its positions do not come from AUTO_INCREMENT), and the store over a pool
/// it was given, against the same baseline and the store, alternating; then the profile when
/// `EVTSTORE_BENCH_MYSQL_STATUS` is set.
async fn side_by_side(
    backend: &str,
    admin: &mut sqlx::MySqlConnection,
    options: &MySqlConnectOptions,
    (database, legacy_database): (&str, &str),
    (store, baseline): (&MySqlStore, &MySqlBaseline),
) {
    let legacy = store_on(options, legacy_database)
        .await
        .legacy_sequence_positions();
    legacy.migrate().await.expect("migrate (first release)");
    let given_pool = MySqlStore::pool_options()
        .max_connections(10)
        .connect_with(options.clone().database(database))
        .await
        .expect("MySQL pool");
    let over_pool = MySqlStore::from_pool(given_pool, Tables::default());
    for (tasks, commands, scenario) in [
        (8, 4000 * scale(), "one-event commands, 8 tasks"),
        (1, 2000 * scale(), "one-event commands, sequential"),
    ] {
        let [mut now, mut given, mut before, mut base] = [Duration::MAX; 4];
        for _ in 0..rounds() {
            now = now.min(store_commands(store, tasks, commands).await);
            given = given.min(store_commands(&over_pool, tasks, commands).await);
            before = before.min(store_commands(&legacy, tasks, commands).await);
            base = base.min(baseline_commands(baseline, tasks, commands).await);
        }
        let target = Target::AtLeast(if tasks == 8 { EIGHT_TASKS_TARGET } else { 0.9 });
        for (variant, time) in [
            ("store", now),
            ("store over a given pool (`from_pool`)", given),
            ("first release (sequence table)", before),
        ] {
            report(
                backend,
                &format!("{scenario}, side by side: {variant}"),
                time,
                base,
                commands,
                target,
            );
        }
        report_speedup(
            backend,
            &format!("{scenario}, side by side: AUTO_INCREMENT against the sequence table"),
            ("now", "before"),
            (now, before),
            commands,
        );
    }

    // Where the time of one-event commands goes (on stderr; not in the table).
    if std::env::var("EVTSTORE_BENCH_MYSQL_STATUS").is_ok() {
        mysql_profile::profile(admin, [store, &over_pool, &legacy], baseline).await;
    }
}
