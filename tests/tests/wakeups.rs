//! Wake-ups across store objects and processes on PostgreSQL: an append through another
//! store (another process, as far as the handler's store can tell) wakes a handler whose poll
//! is a minute, through the events table's trigger and the store's listener; and the
//! listener, when its connection is killed, connects again by itself and keeps waking.

mod common;

use std::time::{Duration, Instant};

use evtstore::{Domain, EventHandler, Store};
use evtstore_sqlx::sqlx::{self, PgPool};
use evtstore_sqlx::{PgStore, Tables};
use evtstore_tests::create_user;
use evtstore_tests::domain::{PostsModel, UserCommands, UserEvent};

/// Far under the handler's poll (a minute), far over a notification's milliseconds.
const BOUND: Duration = Duration::from_secs(3);

/// Two stores on one new schema, with an events table of a name no other test uses (so that
/// its notification channel is this test's alone).
async fn two_stores() -> (PgStore, PgStore, String) {
    let events = common::unique_name("ev").replace("ev_", "w");
    let events: String = events.chars().take(32).collect();
    let tables = Tables::new(&events, "bookmarks", "snapshots").unwrap();
    let handler_side = common::postgres_with(tables.clone()).await;
    let writer_side = PgStore::from_pool(handler_side.pool().clone(), tables);
    (handler_side, writer_side, events)
}

async fn wait_for(model: &EventHandler<PgStore, PostsModel>, count: usize, what: &str) {
    let started = Instant::now();
    while model.model().seen().len() < count {
        assert!(
            started.elapsed() < BOUND,
            "{what}: not woken within {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!(
        "{what}: handled {:.1} ms after the append",
        started.elapsed().as_secs_f64() * 1e3
    );
}

/// The backend pid of the listener on `channel`, once it is listening.
async fn listener_pid(pool: &PgPool, channel: &str, not: Option<i32>) -> i32 {
    let started = Instant::now();
    loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> COALESCE($2, 0) LIMIT 1",
        )
        // `LISTEN "channel"`, with a `;` when sqlx listens again after reconnecting.
        .bind(format!("LISTEN \"{channel}\"%"))
        .bind(not)
        .fetch_optional(pool)
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no listener on {channel}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_store_wakes_the_handler_and_the_listener_reconnects() {
    let (handler_side, writer_side, events) = two_stores().await;
    // The writer's own wake-ups reach only its own handlers: the handler below is woken by
    // the database's notification alone.
    let domain = Domain::new(handler_side.clone());
    let model = domain
        .handler("woken", PostsModel::default())
        .stream::<UserEvent>()
        .idle_poll(Duration::from_secs(60))
        .build();
    let running = model.start();
    let channel = format!("evtstore_{events}");
    let first = listener_pid(handler_side.pool(), &channel, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let writers = Domain::new(writer_side.clone());
    let users = writers.commands(UserCommands::default());
    users.execute("a", &create_user("a")).await.unwrap();
    wait_for(&model, 1, "through the notification").await;

    // Kill the listener's connection: the store connects again and listens again.
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(handler_side.pool())
        .await
        .unwrap();
    assert!(killed);
    let second = listener_pid(handler_side.pool(), &channel, Some(first)).await;
    assert_ne!(first, second);
    tokio::time::sleep(Duration::from_millis(100)).await;
    users.execute("b", &create_user("b")).await.unwrap();
    wait_for(&model, 2, "after the listener reconnected").await;
    running.stop().await;
    assert_eq!(model.model().seen_ids(), ["a", "b"]);
}

/// A runner standing by on another store object (another process, as far as it can tell)
/// takes the claim as soon as the holder stops: the bookmarks table's trigger notifies its
/// listener. Its claim poll is 10 s; the bound is far under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_in_another_store_hands_over_at_once() {
    let (first_store, second_store, _) = two_stores().await;
    let runner = |store: PgStore| {
        Domain::new(store)
            .handler("model", PostsModel::default())
            .stream::<UserEvent>()
            .idle_poll(Duration::from_secs(60))
            .lease(Duration::from_secs(30))
            .build()
    };
    let first = runner(first_store.clone());
    let first_running = first.start();
    let users = Domain::new(first_store.clone()).commands(UserCommands::default());
    users.execute("a", &create_user("a")).await.unwrap();
    wait_for(&first, 1, "the first runner").await;
    let second = runner(second_store.clone());
    let second_running = second.start();
    tokio::time::sleep(Duration::from_millis(200)).await;
    first_running.stop().await;
    let stopped = Instant::now();
    loop {
        let holder = second_store.claim_holder("model").await.unwrap();
        if holder.is_some_and(|holder| holder.owner == second.owner()) {
            break;
        }
        assert!(stopped.elapsed() < BOUND, "no hand-over within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!(
        "handed over {:.1} ms after the stop",
        stopped.elapsed().as_secs_f64() * 1e3
    );
    second_running.stop().await;
}
