//! A database written by the TypeScript evtstore: its tables, created by raw SQL exactly as it
//! creates them, with a row and a bookmark as it writes them, are migrated in place, read, and
//! appended to.

mod common;

use common::{Backend, exec, unmigrated};
use evtstore::{Domain, Error, Store};
use evtstore_tests::domain::{PostsModel, UserCommands, UserEvent};

async fn typescript_database_is_migrated_read_and_extended(backend: Backend) {
    let store = unmigrated(backend).await;
    for statement in common::typescript_tables(backend) {
        exec(&store, statement).await;
    }
    store
        .migrate()
        .await
        .expect("migrating the TypeScript tables");
    store.migrate().await.expect("migrating a second time");

    // The TypeScript row reads as an event, timestamp and all.
    let stored = store.load("users", "alice", 0).await.unwrap();
    assert_eq!(stored.len(), 1, "{backend:?}");
    assert_eq!(stored[0].version, 1);
    assert_eq!(stored[0].event, r#"{"type":"created","name":"alice"}"#);
    let expected_millis = match backend {
        // MySQL's `datetime` keeps whole seconds.
        Backend::MySql => 1_795_712_510_000,
        _ => 1_795_712_510_893,
    };
    assert_eq!(
        stored[0].timestamp.as_millis(),
        expected_millis,
        "{backend:?}"
    );

    // Commands fold it and append after it.
    let domain = Domain::new(store.clone());
    let users = domain.commands(UserCommands::default());
    let alice = domain.load::<UserEvent>("alice").await.unwrap();
    assert_eq!((alice.version, alice.name.as_str()), (1, "alice"));
    let error = users
        .execute("alice", &evtstore_tests::create_user("again"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Command { .. }),
        "{backend:?}: {error:?}"
    );
    users
        .execute("bob", &evtstore_tests::create_user("bob"))
        .await
        .unwrap();
    let bob = store.load("users", "bob", 0).await.unwrap();
    assert!(bob[0].cursor > stored[0].cursor, "{backend:?}");

    // The TypeScript handler's bookmark is past alice: the handler resumes with bob only.
    let model = domain
        .handler("users-model", PostsModel::default())
        .stream::<UserEvent>()
        .build();
    assert_eq!(model.run_once().await.unwrap(), 1, "{backend:?}");
    assert_eq!(model.model().seen_ids(), ["bob"], "{backend:?}");
    // A new handler reads both.
    let fresh = domain
        .handler("new-model", PostsModel::default())
        .stream::<UserEvent>()
        .build();
    assert_eq!(fresh.run_once().await.unwrap(), 2, "{backend:?}");
    // A TypeScript bookmark whose position is NULL (the column allows it) reads as position
    // 0, for the claim as for `bookmark`, and the handler runs. (On PostgreSQL the row keeps
    // the txid this library last wrote, so the handler resumes after that commit: a bookmark
    // moved by the TypeScript library is the subject of the side-by-side issue.)
    exec(
        &store,
        r#"UPDATE bookmarks SET position = NULL WHERE bookmark = 'users-model'"#,
    )
    .await;
    let stored = store.bookmark("users-model").await.unwrap();
    assert_eq!(stored.map(|cursor| cursor.position), Some(0), "{backend:?}");
    let restarted = domain
        .handler("users-model", PostsModel::default())
        .stream::<UserEvent>()
        .build();
    let handled = restarted.run_once().await.unwrap();
    assert!(handled >= 1, "{backend:?}: {handled}");

    // The migrated tables compare ids byte for byte, without padding: `alice ` is not alice.
    let spaced = domain.load::<UserEvent>("alice ").await.unwrap();
    assert_eq!(spaced.version, 0, "{backend:?}");

    // A TypeScript row with a NULL version (its columns are nullable) is read as an unreadable
    // row in its place, which names what is wrong; bob's row after it is still read.
    exec(
        &store,
        r#"UPDATE events SET version = NULL WHERE aggregate_id = 'alice'"#,
    )
    .await;
    let rows = store
        .read(&["users"], evtstore::Cursor::START, 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{backend:?}");
    let unreadable = rows[0].as_ref().unwrap_err();
    assert_eq!(
        unreadable.aggregate_id.as_deref(),
        Some("alice"),
        "{backend:?}"
    );
    assert!(
        unreadable.reason.contains("version is NULL"),
        "{backend:?}: {unreadable}"
    );
    assert_eq!(rows[1].as_ref().unwrap().aggregate_id, "bob", "{backend:?}");
    // A version of 0 (the column allows anything) makes alice's history broken: a load, which
    // would otherwise skip the row and decide on an empty aggregate, refuses it.
    exec(
        &store,
        r#"UPDATE events SET version = 0 WHERE aggregate_id = 'alice'"#,
    )
    .await;
    let error = evtstore_tests::fresh_domain(&domain)
        .load::<UserEvent>("alice")
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::BrokenHistory { .. }) && error.to_string().contains("version is 0"),
        "{backend:?}: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    typescript_database_is_migrated_read_and_extended(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    typescript_database_is_migrated_read_and_extended(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    typescript_database_is_migrated_read_and_extended(Backend::MySql).await;
}
