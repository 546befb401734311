//! Every public future of evtstore and evtstore-sqlx is `Send`: applications run commands and
//! handlers in `tokio::spawn` and in the request handlers of multi-threaded web servers, which
//! accept only `Send` futures.
//!
//! This is a compile test: a future that is not `Send` fails the build of this file, at its
//! line. Nothing is awaited. Each future is checked twice: as returned (`assert_send`), and
//! awaited inside a `'static` task the way `tokio::spawn` takes it (`assert_spawnable`), which
//! also catches the "not general enough" errors that only appear there. An `async fn` whose
//! future stops being `Send` breaks no other test, since its own tests await it in place: that
//! is why this file exists.

use std::future::Future;

use evtstore::{
    Agg, Append, Cursor, Domain, HandlerHandle, MemoryStore, Metadata, NewEvent, Snapshot, Store,
    Timestamp,
};
use evtstore_sqlx::{
    ConnectOptions, MySqlStore, PgStore, SqlStore, SqliteStore, Synchronous, Tables,
};
use evtstore_tests::create_user;
use evtstore_tests::domain::{PostsModel, UserCommand, UserCommands, UserCommandsExt, UserEvent};

/// Compiles only when the value is `Send`.
fn assert_send<T: Send>(_: &T) {}

/// Compiles only when `tokio::spawn` would take the future; it is dropped unpolled.
fn assert_spawnable<F: Future + Send + 'static>(_: F) {}

/// Checks the future of every method of the `Store` trait on a store of one concrete type: the
/// trait asks for `Send` futures, and this checks each impl as it is written.
macro_rules! assert_store_futures_send {
    ($store:expr) => {{
        let store = $store.clone();
        assert_send(&store.append(append()));
        assert_send(&store.load("users", "a", 0));
        assert_send(&store.replay("users", "a", 0, Some("v1"), |_| Ok(())));
        assert_send(&store.read(&["users"], Cursor::START, 10));
        assert_send(&store.last_cursor(&["users"]));
        assert_send(&store.bookmark("model"));
        assert_send(&store.set_bookmark("model", Cursor::START));
        assert_send(&store.snapshot("users", "a"));
        assert_send(&store.save_snapshot("users", "a", &snapshot()));
        let claim = evtstore::Claim {
            name: "model".into(),
            owner: "me".into(),
            epoch: 1,
        };
        let lease = std::time::Duration::from_secs(1);
        assert_send(&store.claim("model", "me", lease));
        assert_send(&store.renew_claim(&claim, lease));
        assert_send(&store.release_claim(&claim));
        assert_send(&store.set_claimed_bookmark(&claim, Cursor::START, lease));
        assert_send(&store.begin());
        assert_spawnable(async move {
            let _ = store.append(append()).await;
            let _ = store.load("users", "a", 0).await;
            let _ = store.replay("users", "a", 0, Some("v1"), |_| Ok(())).await;
            let _ = store.read(&["users"], Cursor::START, 10).await;
            let _ = store.last_cursor(&["users"]).await;
            let _ = store.bookmark("model").await;
            let _ = store.set_bookmark("model", Cursor::START).await;
            let _ = store.snapshot("users", "a").await;
            let _ = store.save_snapshot("users", "a", &snapshot()).await;
            let _ = store.claim("model", "me", lease).await;
            let _ = store.renew_claim(&claim, lease).await;
            let _ = store
                .set_claimed_bookmark(&claim, Cursor::START, lease)
                .await;
            if let Ok(mut transaction) = store.begin().await {
                let _ = store.savepoint(&mut transaction).await;
                let _ = store.rollback_to_savepoint(&mut transaction).await;
                let _ = store.release_savepoint(&mut transaction).await;
                let _ = store
                    .commit_claimed(transaction, &claim, Cursor::START, lease)
                    .await;
            }
            let _ = store.release_claim(&claim).await;
        });
    }};
}

/// An append of one event to `users/a`, borrowing `'static` data so that a task can own it.
fn append() -> Append<'static> {
    static EVENTS: std::sync::LazyLock<[NewEvent; 1]> = std::sync::LazyLock::new(|| {
        [NewEvent {
            version: 1,
            event_type: "created",
            event: r#"{"type":"created","name":"A"}"#.to_owned(),
        }]
    });
    Append {
        stream: "users",
        aggregate_id: "a",
        events: &*EVENTS,
        timestamp: Timestamp::now(),
        metadata: None,
    }
}

fn snapshot() -> Snapshot {
    Snapshot {
        version: 1,
        tag: "v1".to_owned(),
        state: "{}".to_owned(),
    }
}

/// The futures of the domain, of commands and of handlers, checked for every `S: Store` at
/// once, not only for the stores the tests pass.
fn assert_domain_futures_send<S: Store>(domain: &Domain<S>) {
    let metadata = Metadata::default();
    let command = create_user("A");
    let users = domain.commands(UserCommands::default());
    let handler = domain
        .handler("model", PostsModel::default())
        .stream::<UserEvent>()
        .build();

    assert_send(&domain.load::<UserEvent>("a"));
    assert_send(&domain.history::<UserEvent>("a"));
    assert_send(&domain.execute(&UserCommands::default(), "a", &command, &metadata));
    assert_send(&domain.append::<UserEvent>(Agg::new("a"), Vec::new(), &metadata));
    assert_send(&users.execute("a", &command));
    assert_send(&users.execute_with("a", &UserCommand::Disable, &metadata));
    assert_send(&users.load("a"));
    // The typed entry points `#[command]` generates.
    assert_send(&users.create("a", "A".to_owned()));
    assert_send(&users.disable("a"));
    assert_send(&handler.run_once());
    assert_send(&handler.reset());

    let domain = domain.clone();
    assert_spawnable(async move {
        let metadata = Metadata::default();
        let command = create_user("A");
        let _ = domain.load::<UserEvent>("a").await;
        let _ = domain.history::<UserEvent>("a").await;
        let _ = domain
            .execute(&UserCommands::default(), "a", &command, &metadata)
            .await;
        let _ = domain
            .append::<UserEvent>(Agg::new("a"), Vec::new(), &metadata)
            .await;
        let _ = users.execute("a", &command).await;
        let _ = users
            .execute_with("a", &UserCommand::Disable, &metadata)
            .await;
        let _ = users.load("a").await;
        let _ = users.create("a", "A".to_owned()).await;
        let _ = users.disable("a").await;
        let _ = handler.run_once().await;
        handler.reset().await;
    });
}

#[test]
fn memory_store_and_domain_futures_are_send() {
    let store = MemoryStore::new();
    assert_store_futures_send!(store);
    assert_domain_futures_send(&Domain::new(store));
}

/// The futures that need a database or a running handler to be built. Never called: the
/// compiler checks them all the same, and nothing has to connect or run.
#[allow(dead_code)]
fn sql_store_and_runner_futures_are_send(
    sql: SqlStore,
    sqlite: SqliteStore,
    postgres: PgStore,
    mysql: MySqlStore,
    running: HandlerHandle,
) {
    const URL: &str = "sqlite::memory:";
    assert_send(&evtstore_sqlx::connect(URL));
    assert_send(&evtstore_sqlx::connect_with(URL, ConnectOptions::new()));
    assert_send(&SqliteStore::connect(URL));
    assert_send(&SqliteStore::connect_with(
        URL,
        Tables::default(),
        Synchronous::Normal,
    ));
    assert_send(&PgStore::connect(URL));
    assert_send(&PgStore::connect_with(URL, Tables::default()));
    assert_send(&MySqlStore::connect(URL));
    assert_send(&MySqlStore::connect_with(URL, Tables::default()));
    assert_spawnable(async {
        let _ = evtstore_sqlx::connect(URL).await;
        let _ = evtstore_sqlx::connect_with(URL, ConnectOptions::new()).await;
        let _ = SqliteStore::connect(URL).await;
        let _ = SqliteStore::connect_with(URL, Tables::default(), Synchronous::Normal).await;
        let _ = PgStore::connect(URL).await;
        let _ = PgStore::connect_with(URL, Tables::default()).await;
        let _ = MySqlStore::connect(URL).await;
        let _ = MySqlStore::connect_with(URL, Tables::default()).await;
    });

    assert_send(&sql.migrate());
    assert_send(&sqlite.migrate());
    assert_send(&postgres.migrate());
    assert_send(&mysql.migrate());
    let (sql_task, sqlite_task) = (sql.clone(), sqlite.clone());
    let (postgres_task, mysql_task) = (postgres.clone(), mysql.clone());
    assert_spawnable(async move {
        let _ = sql_task.migrate().await;
        let _ = sqlite_task.migrate().await;
        let _ = postgres_task.migrate().await;
        let _ = mysql_task.migrate().await;
    });

    assert_store_futures_send!(sql);
    assert_store_futures_send!(sqlite);
    assert_store_futures_send!(postgres);
    assert_store_futures_send!(mysql);
    assert_domain_futures_send(&Domain::new(sql));

    let stop = running.stop();
    assert_send(&stop);
    assert_spawnable(stop);
}
