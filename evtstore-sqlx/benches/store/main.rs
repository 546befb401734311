//! The evtstore sqlx stores against plain sqlx baselines on the same schema, in the same run,
//! on SQLite (a WAL file, `synchronous=NORMAL`), PostgreSQL and MariaDB/MySQL. Prints one line
//! per scenario with both measurements and their ratio against the target.
//!
//! ```text
//! cargo bench -p evtstore-sqlx --bench store
//! EVTSTORE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test   (the default)
//! EVTSTORE_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test             (the default)
//! EVTSTORE_BENCH_SCALE=1   (multiplies the counts; the default keeps a run near three minutes)
//! EVTSTORE_BENCH_ROUNDS=3   (runs of each measurement, the fastest kept)
//! EVTSTORE_BENCH_BACKENDS=sqlite,postgres,mysql   (the default: all three)
//! EVTSTORE_BENCH_ONLY=catchup   (only the catch-up, gap-safety and first-release lines)
//! EVTSTORE_BENCH_ONLY=projection   (only issue 8's catch-up into a table and takeover lines)
//! EVTSTORE_BENCH_ONLY=latency   (only issue 9's append-to-handled latency lines)
//! EVTSTORE_BENCH_MYSQL_STATUS=1   (prints the server's counters per command on MariaDB)
//! ```
//!
//! Each measurement runs three times (`EVTSTORE_BENCH_ROUNDS`), alternating store and
//! baseline, and keeps the fastest run.
//!
//! - `counter`: the aggregate, commands and read model of every scenario;
//! - `scenarios`: the scenarios, generic over a store and its backend's baseline;
//! - `ledger`: the derived aggregate and the read models of issue 8's lines;
//! - `projection`: catch-up into a table (plain handler, transactional projection, plain
//!   sqlx);
//! - `takeover`: how long a handler takes to take over after its holder died or stopped;
//! - `latency`: how long after an append a started handler handles it, woken or polling;
//! - `measure`: timing and the result lines;
//! - `sqlite`, `postgres`, `mysql`: each backend's baseline and setup;
//! - `mysql_profile`: where the time of one-event commands goes on MariaDB.

mod counter;
mod latency;
mod ledger;
mod measure;
mod mysql;
mod mysql_profile;
mod postgres;
mod projection;
mod scenarios;
mod sqlite;
mod takeover;

/// Now, in milliseconds since the epoch, as the baselines store it.
fn now_millis() -> i64 {
    evtstore::Timestamp::now().as_millis()
}

/// Whether `EVTSTORE_BENCH_BACKENDS` (a comma-separated list; all backends when unset) names
/// this backend.
fn selected(names: &[&str]) -> bool {
    std::env::var("EVTSTORE_BENCH_BACKENDS").map_or(true, |list| {
        list.split(',')
            .map(str::trim)
            .any(|chosen| names.iter().any(|name| name.eq_ignore_ascii_case(chosen)))
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Run by `cargo test --benches` too: then only check that it starts.
    if std::env::args().any(|arg| arg == "--test") {
        return;
    }
    measure::header();
    let catch_up_events = 100_000 * measure::scale();
    if selected(&["sqlite"]) {
        sqlite::run(catch_up_events).await;
    }
    if selected(&["postgres", "postgresql", "pg"]) {
        postgres::run(catch_up_events).await;
    }
    if selected(&["mysql", "mariadb"]) {
        mysql::run(catch_up_events).await;
    }
}
