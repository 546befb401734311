//! On a pool without the store's session options (`PgStore::session_options`, which force
//! generic plans), PostgreSQL still keeps the generic plan of the snapshot's statement, so that
//! a load is not planned again every time: planning the earlier snapshot replay took longer
//! than running it (`BENCHMARKS.md`, "The snapshot replay's plan on pools without the store's
//! session options"). A load from a current snapshot runs that statement alone. The generic
//! plans of the events' replays read the aggregate's index range in order, without a sort, and
//! the snapshot's statement reads no index entry past a current snapshot.

mod common;

use evtstore::Store;
use evtstore_sqlx::{PgStore, Tables, sqlx};

/// How often a prepared statement has run on a generic plan and on custom plans, by a part
/// of its text.
async fn plans(pool: &sqlx::PgPool, text: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
         WHERE strpos(statement, $1) > 0",
    )
    .bind(text)
    .fetch_one(pool)
    .await
    .expect("the replay statement is prepared on the pool's connection")
}

#[tokio::test]
async fn replays_reuse_their_generic_plan() {
    // One connection, so that every statement is prepared, and counted, on it; PostgreSQL's
    // default `plan_cache_mode` (auto), as on a pool a user builds.
    let pool = common::postgres_pool(1).await;
    // Whatever the server's configuration says.
    sqlx::raw_sql("SET plan_cache_mode = auto")
        .execute(&pool)
        .await
        .expect("plan_cache_mode");
    let store = PgStore::from_pool(pool.clone(), Tables::default());
    store.migrate().await.expect("migrate");
    // Many aggregates of a thousand events, as in the load benchmark: the planner then
    // estimates an unknown aggregate (a generic plan) dearer than a known small one.
    sqlx::raw_sql(
        "INSERT INTO events (version, stream, aggregate_id, timestamp, event) \
         SELECT (i - 1) % 1000 + 1, 'counters', 'c' || ((i - 1) / 1000), now(), '{}' \
         FROM generate_series(1, 20000) AS i; \
         INSERT INTO events (version, stream, aggregate_id, timestamp, event) \
         VALUES (1, 'small', 'a', now(), '{}'), (2, 'small', 'a', now(), '{}'); \
         INSERT INTO snapshots (stream, aggregate_id, version, tag, state) \
         VALUES ('small', 'a', 1, 'v1', '{}'); \
         ANALYZE",
    )
    .execute(&pool)
    .await
    .expect("fill");

    for _ in 0..10 {
        for tag in [Some("v1"), None] {
            let mut items = 0;
            store
                .replay("small", "a", 0, tag, |_| {
                    items += 1;
                    Ok(())
                })
                .await
                .expect("replay");
            // With the snapshot: it and the event after it; without: both events.
            assert_eq!(items, 2);
        }
    }

    // PostgreSQL tries five custom plans before it weighs the generic one; the snapshot's
    // statement ran ten times. (The events' statement is planned for each of this tiny
    // aggregate's replays under `auto`: a custom plan for two rows is far cheaper than the
    // generic plan's estimate for an average aggregate. The store's own pool forces generic
    // plans.)
    let text = "The first statement of the replay of an aggregate that keeps snapshots";
    let (generic, custom) = plans(&pool, text).await;
    assert!(
        generic >= 4,
        "replay_snapshot.sql was planned again for each load: {generic} generic plans, \
         {custom} custom"
    );
}

/// The replays without snapshots, on a table of a few long aggregates, where the generic plan
/// without a limit read a third of an aggregate's rows with a bitmap scan and sorted them
/// (`replay_events.sql`): with generic plans forced, as the store's own pool does, neither
/// statement sorts.
#[tokio::test]
async fn replays_without_snapshots_read_the_index_in_order() {
    let pool = common::postgres_pool(1).await;
    let store = PgStore::from_pool(pool.clone(), Tables::default());
    store.migrate().await.expect("migrate");
    sqlx::raw_sql(
        "INSERT INTO events (version, stream, aggregate_id, timestamp, event) \
         SELECT (i - 1) % 1000 + 1, 'counters', 'c' || ((i - 1) / 1000), now(), '{}' \
         FROM generate_series(1, 3000) AS i; \
         ANALYZE; \
         SET plan_cache_mode = force_generic_plan",
    )
    .execute(&pool)
    .await
    .expect("fill");
    let statements = [
        (
            "replay_events.sql",
            include_str!("../../evtstore-sqlx/src/sql/postgres/replay_events.sql"),
        ),
        (
            "replay_versions.sql",
            include_str!("../../evtstore-sqlx/src/sql/postgres/replay_versions.sql"),
        ),
    ];
    for (index, (name, statement)) in statements.into_iter().enumerate() {
        let statement = statement.replace("{events}", "events");
        let prepare = format!("PREPARE replay_{index}(text, text, bigint, bigint) AS {statement}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(prepare))
            .execute(&pool)
            .await
            .expect("prepare");
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN EXECUTE replay_{index}('counters', 'c1', 0, NULL)"
        )))
        .fetch_all(&pool)
        .await
        .expect("explain");
        let plan = plan.join("\n");
        assert!(
            plan.contains("Index Scan") && !plan.contains("Sort"),
            "{name} reads the aggregate out of order:\n{plan}"
        );
    }
}

/// The snapshot's statement tells whether events follow the snapshot by an index scan that
/// starts past the snapshot's version: it reads no entry when the snapshot is current and one
/// when events follow. The table holds many one-event aggregates beside one of 1,000 events,
/// where a generic plan for `max(version)` expected one row per aggregate and read all 1,000
/// entries, checking each on the heap; a backward scan read the snapshot's own entry
/// (`replay_snapshot.sql`).
#[tokio::test]
async fn snapshot_replay_reads_no_entry_past_a_current_snapshot() {
    let pool = common::postgres_pool(1).await;
    let store = PgStore::from_pool(pool.clone(), Tables::default());
    store.migrate().await.expect("migrate");
    sqlx::raw_sql(
        "INSERT INTO events (version, stream, aggregate_id, timestamp, event) \
         SELECT 1, 'counters', 'one' || i, now(), '{}' FROM generate_series(1, 5000) AS i; \
         INSERT INTO events (version, stream, aggregate_id, timestamp, event) \
         SELECT i, 'counters', agg, now(), '{}' \
         FROM generate_series(1, 1000) AS i, unnest(ARRAY['long', 'behind']) AS agg; \
         INSERT INTO snapshots (stream, aggregate_id, version, tag, state) \
         VALUES ('counters', 'long', 1000, 'v1', '{}'), ('counters', 'behind', 400, 'v1', '{}'); \
         ANALYZE; \
         SET plan_cache_mode = force_generic_plan",
    )
    .execute(&pool)
    .await
    .expect("fill");
    let statement = include_str!("../../evtstore-sqlx/src/sql/postgres/replay_snapshot.sql")
        .replace("{events}", "events")
        .replace("{snapshots}", "snapshots");
    let prepare = format!("PREPARE replay_snapshot(text, text, text, bigint) AS {statement}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(prepare))
        .execute(&pool)
        .await
        .expect("prepare");
    for (aggregate, rows) in [("long", "0"), ("behind", "1")] {
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) \
             EXECUTE replay_snapshot('counters', '{aggregate}', 'v1', 0)"
        )))
        .fetch_all(&pool)
        .await
        .expect("explain");
        let plan = plan.join("\n");
        // An index scan in order (no bitmap scan, no sort) hands over `rows` rows, not the
        // aggregate's 1,000 (PostgreSQL 18 prints the actual rows with two decimals).
        let events_scan = plan
            .lines()
            .find(|line| line.contains("on events"))
            .unwrap_or_else(|| panic!("no scan of the events:\n{plan}"));
        assert!(
            events_scan.contains("Index")
                && !plan.contains("Bitmap")
                && !plan.contains("Sort")
                && (events_scan.contains(&format!("rows={rows} "))
                    || events_scan.contains(&format!("rows={rows}.00 "))),
            "replay_snapshot.sql reads more than {rows} entries past the snapshot of \
             {aggregate}:\n{plan}"
        );
    }
}

/// A load from a snapshot as new as the aggregate's last event is the snapshot's statement
/// alone: the events' statement is never prepared on the connection.
#[tokio::test]
async fn a_current_snapshot_is_one_statement() {
    let pool = common::postgres_pool(1).await;
    let store = PgStore::from_pool(pool.clone(), Tables::default());
    store.migrate().await.expect("migrate");
    sqlx::raw_sql(
        "INSERT INTO events (version, stream, aggregate_id, timestamp, event) \
         SELECT i, 'counters', 'c', now(), '{}' FROM generate_series(1, 3) AS i; \
         INSERT INTO snapshots (stream, aggregate_id, version, tag, state) \
         VALUES ('counters', 'c', 3, 'v1', '{}')",
    )
    .execute(&pool)
    .await
    .expect("fill");
    let replay = |tag| {
        let store = store.clone();
        async move {
            let mut items = 0;
            store
                .replay("counters", "c", 0, tag, |_| {
                    items += 1;
                    Ok(())
                })
                .await
                .expect("replay");
            items
        }
    };
    assert_eq!(replay(Some("v1")).await, 1);
    let prepared = |text: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_prepared_statements WHERE strpos(statement, $1) > 0",
            )
            .bind(text)
            .fetch_one(&pool)
            .await
            .expect("pg_prepared_statements")
        }
    };
    let events_text = "The events of an aggregate for folding, after version $3";
    assert_eq!(prepared(events_text).await, 0, "replay_events.sql ran");
    // Without the snapshot the events' statement runs (so the text above is the statement's).
    assert_eq!(replay(None).await, 3);
    assert_eq!(prepared(events_text).await, 1);
}
