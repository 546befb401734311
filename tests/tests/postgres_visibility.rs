//! Visibility on PostgreSQL when an old transaction is still running: reads held back by it
//! are reported once per episode with the blocking backend, and tailing handlers start at the
//! true end of history, past the committed events it holds back.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use evtstore::{Cursor, Domain, HandlerOptions, Store};
use evtstore_sqlx::sqlx;
use evtstore_tests::domain::{PostsModel, UserCommands, UserEvent};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// The fields of every warning, as text.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if *event.metadata().level() != tracing::Level::WARN {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Warnings {
    /// The warnings naming the backend `pid`.
    fn naming(&self, pid: i32) -> usize {
        let pid = pid.to_string();
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|fields| fields.get("pid") == Some(&pid))
            .count()
    }
}

/// Reads at the end of the users stream for `how_long`, as a tailing handler does.
async fn read_at_the_end(store: &evtstore_sqlx::PgStore, after: Cursor, how_long: Duration) {
    let started = Instant::now();
    while started.elapsed() < how_long {
        store.read(&["users"], after, 10).await.unwrap();
    }
}

/// Opens a transaction that holds a transaction id and stays open; returns it and its pid.
async fn blocker(pool: &sqlx::PgPool) -> (sqlx::Transaction<'static, sqlx::Postgres>, i32) {
    let mut transaction = pool.begin().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *transaction)
        .await
        .unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *transaction)
        .await
        .unwrap();
    (transaction, pid)
}

#[tokio::test]
async fn held_back_reads_are_reported_once_and_tails_start_at_the_true_end() {
    let warnings = Warnings::default();
    let subscriber = tracing_subscriber::registry().with(warnings.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let store = common::postgres()
        .await
        .with_visibility_wait(Duration::from_millis(20))
        .with_held_back_report(Duration::from_millis(100));
    let domain = Domain::new(store.clone());
    let users = domain.commands(UserCommands::default());
    users
        .execute("before", &evtstore_tests::create_user("before"))
        .await
        .unwrap();
    let before = store.last_cursor(&["users"]).await.unwrap();

    // An old transaction, then an event committed after it: held back from gap-safe reads.
    let (open, pid) = blocker(store.pool()).await;
    users
        .execute("held", &evtstore_tests::create_user("held"))
        .await
        .unwrap();
    read_at_the_end(&store, before, Duration::from_millis(400)).await;
    assert_eq!(
        warnings.naming(pid),
        1,
        "one report per episode, naming the blocker"
    );

    // A tailing handler starts at the true end: past the held-back event.
    let held_position: i64 =
        sqlx::query_scalar("SELECT position FROM events WHERE aggregate_id = 'held'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let tail = domain
        .handler("tail", PostsModel::default())
        .stream::<UserEvent>()
        .options(HandlerOptions {
            tail_stream: true,
            ..HandlerOptions::default()
        })
        .build();
    assert_eq!(tail.run_once().await.unwrap(), 0);
    let start = store.bookmark("tail").await.unwrap().unwrap();
    assert_eq!(start.position, held_position);

    // Once the old transaction ends, the held-back event is history to the tail, and a new
    // one is handled.
    open.rollback().await.unwrap();
    assert_eq!(tail.run_once().await.unwrap(), 0);
    users
        .execute("new", &evtstore_tests::create_user("new"))
        .await
        .unwrap();
    assert_eq!(tail.run_once().await.unwrap(), 1);
    assert_eq!(tail.model().seen_ids(), ["new"]);

    // A new episode is reported again.
    let after_new = store.last_cursor(&["users"]).await.unwrap();
    let (open, pid) = blocker(store.pool()).await;
    // The pool may hand out the first blocker's connection again: count from here.
    let earlier = warnings.naming(pid);
    users
        .execute("held-2", &evtstore_tests::create_user("held-2"))
        .await
        .unwrap();
    read_at_the_end(&store, after_new, Duration::from_millis(400)).await;
    open.rollback().await.unwrap();
    assert_eq!(warnings.naming(pid) - earlier, 1);
}
