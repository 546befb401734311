//! Event handlers: bookmarks, stream order, tailing, errors, hooks, start and stop.

use crate::ReadEvents;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use evtstore::{Cursor, Domain, Error, EventHandler, HandlerOptions, Store};

use crate::create_user;
use crate::domain::{
    PostCommand, PostCommands, PostEvent, PostsModel, UserCommand, UserCommands, UserEvent,
};

/// A handler of posts and users named `name`, with `options`.
pub(crate) fn posts_model<S: Store>(
    domain: &Domain<S>,
    name: &str,
    options: HandlerOptions,
) -> EventHandler<S, PostsModel> {
    domain
        .handler(name, PostsModel::default())
        .stream::<PostEvent>()
        .stream::<UserEvent>()
        .options(options)
        .build()
}

pub(crate) async fn create_users<S: Store>(domain: &Domain<S>, ids: &[&str]) {
    let users = domain.commands(UserCommands::default());
    for id in ids {
        users.execute(id, &create_user(id)).await.unwrap();
    }
}

/// A handler builds a read model; a second run handles nothing twice.
pub async fn handler_builds_read_model_once<S: Store>(store: S) {
    let domain = Domain::new(store);
    create_users(&domain, &["alice"]).await;
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });
    let create = PostCommand::CreatePost {
        user_id: "alice".into(),
        content: "hello".into(),
    };
    posts.execute("post-1", &create).await.unwrap();
    posts
        .execute(
            "post-1",
            &PostCommand::ArchivePost {
                user_id: "alice".into(),
            },
        )
        .await
        .unwrap();

    let model = posts_model(&domain, "posts-model", HandlerOptions::default());
    assert_eq!(model.run_once().await.unwrap(), 3);
    let post = model.model().posts.lock().unwrap().get("post-1").cloned();
    assert_eq!(post, Some(("alice".into(), "hello".into(), true)));
    assert_eq!(model.run_once().await.unwrap(), 0);
    assert_eq!(model.model().seen().len(), 3);
}

/// New events after a run are handled by the next run, and only they.
pub async fn next_run_handles_only_new_events<S: Store>(store: S) {
    let domain = Domain::new(store);
    create_users(&domain, &["a", "b"]).await;
    let model = posts_model(&domain, "model", HandlerOptions::default());
    assert_eq!(model.run_once().await.unwrap(), 2);
    create_users(&domain, &["c"]).await;
    assert_eq!(model.run_once().await.unwrap(), 1);
    assert_eq!(model.model().seen_ids(), ["a", "b", "c"]);
}

/// A bookmark that was never stored reads as absent, and a handler without one starts at the
/// beginning; after a run the stored bookmark is the last event's cursor.
pub async fn missing_bookmark_starts_at_beginning<S: Store>(store: S) {
    assert_eq!(store.bookmark("never-stored").await.unwrap(), None);
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "b"]).await;
    let model = posts_model(&domain, "model", HandlerOptions::default());
    assert_eq!(model.run_once().await.unwrap(), 2);
    let last = store.last_cursor(&["users"]).await.unwrap();
    assert_eq!(store.bookmark("model").await.unwrap(), Some(last));
}

/// A new handler object with a stored bookmark (a restart) resumes after it.
pub async fn restarted_handler_resumes_from_bookmark<S: Store>(store: S) {
    let domain = Domain::new(store);
    create_users(&domain, &["a", "b"]).await;
    assert_eq!(
        posts_model(&domain, "model", HandlerOptions::default())
            .run_once()
            .await
            .unwrap(),
        2
    );
    create_users(&domain, &["c"]).await;
    let restarted = posts_model(&domain, "model", HandlerOptions::default());
    assert_eq!(restarted.run_once().await.unwrap(), 1);
    assert_eq!(restarted.model().seen_ids(), ["c"]);
}

/// An in-memory bookmark starts at the beginning, keeps its place across runs, and stores
/// nothing.
pub async fn in_memory_bookmark_keeps_place<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "b"]).await;
    let model = domain
        .handler("memory-only", PostsModel::default())
        .stream::<UserEvent>()
        .bookmark_in_memory()
        .build();
    assert_eq!(model.run_once().await.unwrap(), 2);
    assert_eq!(model.run_once().await.unwrap(), 0);
    create_users(&domain, &["c"]).await;
    assert_eq!(model.run_once().await.unwrap(), 1);
    assert_eq!(store.bookmark("memory-only").await.unwrap(), None);
}

/// A handler over two streams receives the events of both, in global order.
pub async fn two_streams_in_position_order<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });
    users.execute("alice", &create_user("Alice")).await.unwrap();
    let create = |content: &str| PostCommand::CreatePost {
        user_id: "alice".into(),
        content: content.into(),
    };
    posts.execute("p1", &create("one")).await.unwrap();
    users.execute("alice", &UserCommand::Disable).await.unwrap();
    posts.execute("p2", &create("two")).await.unwrap();
    users.execute("bob", &create_user("Bob")).await.unwrap();

    let model = posts_model(&domain, "model", HandlerOptions::default());
    assert_eq!(model.run_once().await.unwrap(), 5);
    let seen = model.model().seen();
    let order: Vec<(&str, &str)> = seen.iter().map(|s| (s.stream, s.event_type)).collect();
    assert_eq!(
        order,
        [
            ("users", "created"),
            ("posts", "postCreated"),
            ("users", "disabled"),
            ("posts", "postCreated"),
            ("users", "created"),
        ]
    );
    assert!(
        seen.windows(2)
            .all(|pair| pair[0].position < pair[1].position)
    );
}

/// A handler reads only its own streams.
pub async fn handler_reads_only_its_streams<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });
    users.execute("alice", &create_user("Alice")).await.unwrap();
    let create = PostCommand::CreatePost {
        user_id: "alice".into(),
        content: "x".into(),
    };
    posts.execute("p1", &create).await.unwrap();
    let posts_only = domain
        .handler("posts-only", PostsModel::default())
        .stream::<PostEvent>()
        .build();
    assert_eq!(posts_only.streams(), ["posts"]);
    assert_eq!(posts_only.run_once().await.unwrap(), 1);
    assert_eq!(posts_only.model().seen()[0].stream, "posts");
}

/// With small pages every event is still handled once, in order.
pub async fn small_pages_handle_everything_in_order<S: Store>(store: S) {
    let domain = Domain::new(store);
    let ids: Vec<String> = (0..11).map(|i| format!("user-{i:02}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    create_users(&domain, &refs).await;
    let batches = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&batches);
    let model = domain
        .handler("paged", PostsModel::default())
        .stream::<UserEvent>()
        .page_size(3)
        .after_batch(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    assert_eq!(model.run_once().await.unwrap(), 11);
    assert_eq!(model.model().seen_ids(), ids);
    assert_eq!(batches.load(Ordering::SeqCst), 4);
}

/// `tail_stream`: a new bookmark starts at the end of the streams and is stored at once;
/// later events are handled.
pub async fn tail_stream_skips_history<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["old-1", "old-2"]).await;
    let options = HandlerOptions {
        tail_stream: true,
        ..HandlerOptions::default()
    };
    let model = posts_model(&domain, "tail", options);
    assert_eq!(model.run_once().await.unwrap(), 0);
    assert_eq!(
        store.bookmark("tail").await.unwrap(),
        Some(store.last_cursor(&["users"]).await.unwrap())
    );
    create_users(&domain, &["new"]).await;
    assert_eq!(model.run_once().await.unwrap(), 1);
    assert_eq!(model.model().seen_ids(), ["new"]);
}

/// `tail_stream` only applies to a new bookmark: a stored one is resumed.
pub async fn tail_stream_resumes_stored_bookmark<S: Store>(store: S) {
    let domain = Domain::new(store);
    create_users(&domain, &["a"]).await;
    let options = HandlerOptions {
        tail_stream: true,
        ..HandlerOptions::default()
    };
    assert_eq!(
        posts_model(&domain, "tail", options)
            .run_once()
            .await
            .unwrap(),
        0
    );
    create_users(&domain, &["b", "c"]).await;
    let restarted = posts_model(&domain, "tail", options);
    assert_eq!(restarted.run_once().await.unwrap(), 2);
    assert_eq!(restarted.model().seen_ids(), ["b", "c"]);
}

/// `always_tail_stream`: every start begins at the end, whatever the bookmark says; new
/// events are handled.
pub async fn always_tail_stream_skips_history<S: Store>(store: S) {
    let domain = Domain::new(store);
    create_users(&domain, &["a"]).await;
    // A stored bookmark at the beginning that always-tail must ignore.
    assert_eq!(
        posts_model(&domain, "always", HandlerOptions::default())
            .run_once()
            .await
            .unwrap(),
        1
    );
    create_users(&domain, &["b"]).await;
    let options = HandlerOptions {
        always_tail_stream: true,
        ..HandlerOptions::default()
    };
    let model = posts_model(&domain, "always", options);
    assert_eq!(model.run_once().await.unwrap(), 0);
    create_users(&domain, &["c"]).await;
    assert_eq!(model.run_once().await.unwrap(), 1);
    assert_eq!(model.model().seen_ids(), ["c"]);
}

/// `always_tail_stream` after `reset`: the handler jumps to the end again, then handles new
/// events.
pub async fn always_tail_stream_after_reset<S: Store>(store: S) {
    let domain = Domain::new(store);
    let options = HandlerOptions {
        always_tail_stream: true,
        ..HandlerOptions::default()
    };
    let model = posts_model(&domain, "always", options);
    create_users(&domain, &["a"]).await;
    assert_eq!(model.run_once().await.unwrap(), 0);
    create_users(&domain, &["b"]).await;
    model.reset().await;
    assert_eq!(model.run_once().await.unwrap(), 0);
    create_users(&domain, &["c"]).await;
    assert_eq!(model.run_once().await.unwrap(), 1);
    assert_eq!(model.model().seen_ids(), ["c"]);
}

/// A run that claims the handler anew reads the stored bookmark, so a bookmark moved by an
/// operator (or another process) is followed and nothing is skipped; `reset` forgets the
/// cached one of a runner that keeps its claim.
pub async fn run_rereads_stored_bookmark<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "b"]).await;
    let model = posts_model(&domain, "model", HandlerOptions::default());
    assert_eq!(model.run_once().await.unwrap(), 2);
    // Rewind the stored bookmark to the first event: the next run sees the second again.
    let first = store
        .read_events(&["users"], Cursor::START, 1)
        .await
        .unwrap()[0]
        .cursor;
    store.set_bookmark("model", first).await.unwrap();
    assert_eq!(model.run_once().await.unwrap(), 1);
    assert_eq!(model.run_once().await.unwrap(), 0);
    store.set_bookmark("model", first).await.unwrap();
    model.reset().await;
    assert_eq!(model.run_once().await.unwrap(), 1);
    assert_eq!(model.model().seen_ids(), ["a", "b", "b", "b"]);
}

/// `continue_on_error`: a failing event is reported and skipped, the next one is handled and
/// the bookmark moves past both.
pub async fn continue_on_error_skips_failing_event<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "bad", "c"]).await;
    let reported = Arc::new(std::sync::Mutex::new(Vec::new()));
    let reports = Arc::clone(&reported);
    let options = HandlerOptions {
        continue_on_error: true,
        ..HandlerOptions::default()
    };
    let model = domain
        .handler("model", PostsModel::default())
        .stream::<UserEvent>()
        .options(options)
        .on_error(move |error| reports.lock().unwrap().push(error.to_string()))
        .build();
    *model.model().fail_on.lock().unwrap() = Some("bad".into());
    assert_eq!(model.run_once().await.unwrap(), 2);
    assert_eq!(model.model().seen_ids(), ["a", "c"]);
    let reported = reported.lock().unwrap().clone();
    assert_eq!(reported.len(), 1);
    assert!(
        reported[0].contains("users/bad") && reported[0].contains("refusing bad"),
        "{reported:?}"
    );
    assert_eq!(
        store.bookmark("model").await.unwrap(),
        Some(store.last_cursor(&["users"]).await.unwrap())
    );
}

/// Without `continue_on_error` the run fails on the failing event; the events after it are
/// not handled and the bookmark stays before it, so a later run retries it.
pub async fn failing_event_stops_handler<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "bad", "c"]).await;
    let model = posts_model(&domain, "model", HandlerOptions::default());
    *model.model().fail_on.lock().unwrap() = Some("bad".into());
    let error = model.run_once().await.unwrap_err();
    match &error {
        Error::Handler {
            bookmark,
            stream,
            aggregate_id,
            event_type,
            ..
        } => {
            assert_eq!(
                (
                    bookmark.as_str(),
                    stream.as_str(),
                    aggregate_id.as_str(),
                    event_type.as_str()
                ),
                ("model", "users", "bad", "created")
            );
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert_eq!(model.model().seen_ids(), ["a"]);
    let events = store
        .read_events(&["users"], Cursor::START, 10)
        .await
        .unwrap();
    assert_eq!(
        store.bookmark("model").await.unwrap(),
        Some(events[0].cursor)
    );
    // Still failing: nothing moves.
    assert!(model.run_once().await.is_err());
    assert_eq!(model.model().seen_ids(), ["a"]);
    // Fixed: the failing event and the rest are handled, once.
    *model.model().fail_on.lock().unwrap() = None;
    assert_eq!(model.run_once().await.unwrap(), 2);
    assert_eq!(model.model().seen_ids(), ["a", "bad", "c"]);
}

/// The hooks run before and after each batch, and the after hook is told what it did.
pub async fn hooks_run_around_each_batch<S: Store>(store: S) {
    let domain = Domain::new(store);
    create_users(&domain, &["a", "b", "c", "d", "e"]).await;
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (before, after) = (Arc::clone(&log), Arc::clone(&log));
    let model = domain
        .handler("hooked", PostsModel::default())
        .stream::<UserEvent>()
        .page_size(2)
        .before_batch(move || before.lock().unwrap().push("before".to_owned()))
        .after_batch(move |report| {
            after
                .lock()
                .unwrap()
                .push(format!("after {}/{}", report.handled, report.fetched));
        })
        .build();
    assert_eq!(model.run_once().await.unwrap(), 5);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "before",
            "after 2/2",
            "before",
            "after 2/2",
            "before",
            "after 1/1"
        ]
    );
}

/// A started handler handles new events as they come; after `stop` it handles nothing more.
pub async fn started_handler_stops<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    let model = domain
        .handler("live", PostsModel::default())
        .stream::<UserEvent>()
        .idle_poll(Duration::from_millis(10))
        .build();
    let running = model.start();
    create_users(&domain, &["a", "b"]).await;
    wait_until(|| model.model().seen().len() == 2).await;
    assert!(running.is_running());
    running.stop().await;
    create_users(&domain, &["c"]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(model.model().seen_ids(), ["a", "b"]);
    // The bookmark was stored; a run afterwards picks up where the started one stopped.
    assert_eq!(model.run_once().await.unwrap(), 1);
}

/// `stop` lets the page in flight finish and store its bookmark before it returns; nothing
/// is handled after it returns.
pub async fn stop_waits_for_page_in_flight<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "b", "c", "d", "e", "f"]).await;
    let model = domain
        .handler("slow", PostsModel::default())
        .stream::<UserEvent>()
        .page_size(2)
        .build();
    model.model().slow_millis.store(40, Ordering::SeqCst);
    let running = model.start();
    wait_until(|| !model.model().seen().is_empty()).await;
    running.stop().await;
    let seen = model.model().seen();
    // The page in flight (two events) was finished, and the run stopped before the rest.
    assert!(seen.len() >= 2 && seen.len() < 6, "{seen:?}");
    let last = seen.last().unwrap().position;
    assert_eq!(
        store.bookmark("slow").await.unwrap().map(|c| c.position),
        Some(last)
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(model.model().seen(), seen);
}

/// A started handler reports a failing run and tries again after the back-off.
pub async fn started_handler_retries_after_error<S: Store>(store: S) {
    let domain = Domain::new(store);
    let errors = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&errors);
    let model = domain
        .handler("retrying", PostsModel::default())
        .stream::<UserEvent>()
        .idle_poll(Duration::from_millis(10))
        .error_backoff(Duration::from_millis(20))
        .on_error(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    *model.model().fail_on.lock().unwrap() = Some("bad".into());
    create_users(&domain, &["bad"]).await;
    let running = model.start();
    wait_until(|| errors.load(Ordering::SeqCst) >= 2).await;
    *model.model().fail_on.lock().unwrap() = None;
    wait_until(|| model.model().seen().len() == 1).await;
    running.stop().await;
    assert_eq!(model.model().seen_ids(), ["bad"]);
}

/// Polls `done` every few milliseconds for up to ten seconds.
pub(crate) async fn wait_until(done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 10 s");
}

/// A started handler whose idle poll is a minute handles a new event at once: the store wakes
/// it on append (the bound below is far under the poll, and far over the wake-up's
/// milliseconds).
pub async fn started_handler_wakes_on_append<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    let model = domain
        .handler("woken", PostsModel::default())
        .stream::<UserEvent>()
        .idle_poll(Duration::from_secs(60))
        .build();
    let running = model.start();
    create_users(&domain, &["a"]).await;
    wait_until(|| model.model().seen().len() == 1).await;
    // The runner is idle now, for a minute unless woken.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let appended = std::time::Instant::now();
    create_users(&domain, &["b"]).await;
    let bound = Duration::from_secs(3);
    while model.model().seen().len() < 2 {
        assert!(
            appended.elapsed() < bound,
            "the append did not wake the handler within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    running.stop().await;
    assert_eq!(model.model().seen_ids(), ["a", "b"]);
}

/// A model that, on every event, reads the handler's stored bookmark from the store: what a
/// process taking over at that moment would resume from.
struct BookmarkWatcher<S> {
    store: S,
    bookmark: &'static str,
    seen: std::sync::Mutex<Vec<Option<Cursor>>>,
}

impl<S: Store> evtstore::HandledBy<BookmarkWatcher<S>> for UserEvent {
    async fn dispatch(
        model: &BookmarkWatcher<S>,
        _: &str,
        _: &Self,
        _: &evtstore::EventMeta,
    ) -> evtstore::HandlerResult {
        let stored = model.store.bookmark(model.bookmark).await?;
        model.seen.lock().unwrap().push(stored);
        Ok(())
    }
}

/// `bookmark_every`: while catching up, a plain handler stores its bookmark between pages only
/// once the interval has passed, and always when the run ends; with no interval it stores it
/// after every page.
pub async fn bookmark_stored_every_interval_and_at_end<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    let ids: Vec<String> = (0..4).map(|i| format!("user-{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    create_users(&domain, &refs).await;
    let read = store.read(&["users"], Cursor::START, 10).await.unwrap();
    let cursors: Vec<Cursor> = read.iter().map(evtstore::row_cursor).collect();
    let watched = |bookmark: &'static str, every: Duration| {
        domain
            .handler(
                bookmark,
                BookmarkWatcher {
                    store: store.clone(),
                    bookmark,
                    seen: std::sync::Mutex::default(),
                },
            )
            .stream::<UserEvent>()
            .page_size(1)
            .bookmark_every(every)
            .build()
    };

    let rarely = watched("rarely", Duration::from_secs(3600));
    assert_eq!(rarely.run_once().await.unwrap(), 4);
    assert_eq!(*rarely.model().seen.lock().unwrap(), [None; 4]);
    assert_eq!(store.bookmark("rarely").await.unwrap(), Some(cursors[3]));

    // Every page: the bookmark of page n is written while page n + 1 is handled, so by the
    // time page n + 2 is handled it is stored (and nothing is stored before the first page).
    let always = watched("always", Duration::ZERO);
    assert_eq!(always.run_once().await.unwrap(), 4);
    let seen = always.model().seen.lock().unwrap().clone();
    assert_eq!(seen[0], None);
    assert!(seen[2] >= Some(cursors[0]), "{seen:?}");
    assert!(seen[3] >= Some(cursors[1]), "{seen:?}");
    assert_eq!(store.bookmark("always").await.unwrap(), Some(cursors[3]));
}
