//! Lag and health: a handler's status from the handler object and from the store.

use std::time::Duration;

use evtstore::{Domain, HandlerOptions, HandlerStatus, Store};

use crate::cases::handlers::{create_users, posts_model, wait_until};
use crate::domain::{PostsModel, UserEvent};

/// The status says how far behind a handler is, who runs it and when it last handled an
/// event; the store gives the same (but the time) to any process.
pub async fn status_shows_lag_holder_and_last_handled<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "b", "c"]).await;
    let streams = ["posts", "users"];
    let model = posts_model(&domain, "model", HandlerOptions::default());
    let before = HandlerStatus::read(&store, "model", &streams)
        .await
        .unwrap();
    assert_eq!(before.position, None);
    assert_eq!(before.behind, 3);
    assert_eq!(before.holder, None);
    assert_eq!(
        before.last_cursor,
        store.last_cursor(&streams).await.unwrap()
    );
    assert_eq!(model.status().await.unwrap(), std::slice::from_ref(&before));
    // Counted between two cursors, both ends as documented, streams respected.
    let first = store
        .read(&["users"], evtstore::Cursor::START, 1)
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap()
        .cursor;
    let last = before.last_cursor;
    assert_eq!(store.count_between(&streams, first, last).await.unwrap(), 2);
    assert_eq!(
        store
            .count_between(&streams, evtstore::Cursor::START, first)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .count_between(&["posts"], evtstore::Cursor::START, last)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.count_between(&streams, last, last).await.unwrap(), 0);

    assert_eq!(model.run_once().await.unwrap(), 3);
    let [after] = <[HandlerStatus; 1]>::try_from(model.status().await.unwrap()).unwrap();
    assert_eq!(after.behind, 0);
    assert_eq!(after.position, Some(after.last_cursor));
    assert!(after.last_handled.is_some());
    assert_eq!(after.holder, None, "run_once lets go of its claim");
    create_users(&domain, &["d"]).await;
    let from_elsewhere = HandlerStatus::read(&store, "model", &streams)
        .await
        .unwrap();
    assert_eq!(from_elsewhere.behind, 1);
    assert_eq!(from_elsewhere.last_handled, None);

    let runner = domain
        .handler("model", PostsModel::default())
        .stream::<UserEvent>()
        .idle_poll(Duration::from_millis(10))
        .build();
    let running = runner.start();
    wait_until(|| runner.model().seen().len() == 1).await;
    let held = HandlerStatus::read(&store, "model", &["users"])
        .await
        .unwrap();
    let holder = held.holder.expect("a started runner holds the claim");
    assert_eq!(holder.owner, runner.owner());
    assert!(holder.lease_left > Duration::ZERO && holder.lease_left <= evtstore::DEFAULT_LEASE);
    running.stop().await;
    let stopped = HandlerStatus::read(&store, "model", &["users"])
        .await
        .unwrap();
    assert_eq!(
        stopped.holder, None,
        "a stopped runner lets go of its claim"
    );
    assert_eq!(stopped.behind, 0);
}

/// Read-your-writes: a caller can wait until a handler has the events up to a cursor, through
/// the handler object that runs it and through another object of the same handler that does
/// not (another process: it sees the stored bookmark), every segment of a split one; and the
/// wait is bounded when nobody runs it.
pub async fn waits_until_a_handler_has_handled<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a"]).await;
    let written = store.last_cursor(&["users"]).await.unwrap();
    let build = || {
        domain
            .handler("waited", PostsModel::default())
            .stream::<UserEvent>()
            .segments(2)
            .idle_poll(Duration::from_secs(60))
            .build()
    };
    let (runner, elsewhere) = (build(), build());

    // Nobody runs it: the wait ends at its bound, and says so.
    let started = std::time::Instant::now();
    let waited = elsewhere
        .wait_until_handled(written, Duration::from_millis(50))
        .await
        .unwrap();
    assert!(!waited, "nothing handled the event");
    assert!(started.elapsed() >= Duration::from_millis(50));

    let running = runner.start();
    assert!(
        runner
            .wait_until_handled(written, Duration::from_secs(10))
            .await
            .unwrap()
    );
    assert_eq!(runner.model().seen_ids(), ["a"]);
    assert!(
        elsewhere
            .wait_until_handled(written, Duration::from_secs(10))
            .await
            .unwrap(),
        "the stored bookmarks of every segment reached the cursor"
    );
    assert!(elsewhere.model().seen().is_empty(), "it never ran");

    // A later event, waited for from the other object while the runner handles it.
    create_users(&domain, &["b"]).await;
    let later = store.last_cursor(&["users"]).await.unwrap();
    assert!(later > written);
    assert!(
        elsewhere
            .wait_until_handled(later, Duration::from_secs(10))
            .await
            .unwrap()
    );
    assert_eq!(runner.model().seen_ids(), ["a", "b"]);
    running.stop().await;
}
