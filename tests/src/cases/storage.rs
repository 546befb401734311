//! The store interface itself: reads, cursors, bookmarks, and events the code cannot decode.

use crate::ReadEvents;
use evtstore::{Cursor, DecodeError, Domain, Error, HandlerOptions, Replayed, Snapshot, Store};

use crate::cases::{append_raw, append_raw_versions};
use crate::domain::{PostsModel, UserEvent};

/// `load` after a version returns only the newer events, in version order.
pub async fn load_after_version<S: Store>(store: S) {
    for version in 1..=4 {
        append_raw(&store, "users", "a", version, r#"{"type":"enabled"}"#)
            .await
            .unwrap();
    }
    let versions: Vec<u64> = store
        .load("users", "a", 2)
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, [3, 4]);
    assert!(store.load("users", "a", 4).await.unwrap().is_empty());
    assert!(store.load("users", "other", 0).await.unwrap().is_empty());
}

/// `read` returns the given streams' events after the cursor, in order, at most `limit`.
pub async fn read_respects_cursor_streams_and_limit<S: Store>(store: S) {
    append_raw(&store, "users", "a", 1, r#"{"type":"enabled"}"#)
        .await
        .unwrap();
    append_raw(&store, "posts", "p", 1, r#"{"type":"postArchived"}"#)
        .await
        .unwrap();
    append_raw(&store, "users", "a", 2, r#"{"type":"enabled"}"#)
        .await
        .unwrap();
    append_raw(&store, "other", "o", 1, r#"{"type":"x"}"#)
        .await
        .unwrap();
    let all = store
        .read_events(&["users", "posts"], Cursor::START, 10)
        .await
        .unwrap();
    let streams: Vec<&str> = all.iter().map(|e| e.stream.as_str()).collect();
    assert_eq!(streams, ["users", "posts", "users"]);
    assert!(all.windows(2).all(|pair| pair[0].cursor < pair[1].cursor));
    let first_two = store
        .read_events(&["users", "posts"], Cursor::START, 2)
        .await
        .unwrap();
    assert_eq!(first_two, all[..2]);
    let rest = store
        .read_events(&["users", "posts"], all[1].cursor, 10)
        .await
        .unwrap();
    assert_eq!(rest, all[2..]);
    // A read of one stream gives its events whole, stream included (MySQL's statement
    // selects NULL for the stream then: the caller knows it).
    let users = store
        .read_events(&["users"], Cursor::START, 10)
        .await
        .unwrap();
    assert_eq!(users, [all[0].clone(), all[2].clone()]);
    assert!(
        store
            .read_events(&["users", "posts"], all[2].cursor, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .read_events(&["nothing"], Cursor::START, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A stream with few events among many of another, then many in a row, reads whole and in
/// order, page after page, whatever the page size. Stores that read ahead in ranges of
/// positions (MySQL/MariaDB: from 32 positions a range for pages of one row) pass over ranges
/// that hold none of its events without taking them for the end, and read on from the last
/// row of a range that holds more of them than one query brings. `read_page` gives the same
/// rows.
pub async fn sparse_stream_reads_whole_in_pages<S: Store>(store: S) {
    let enabled = r#"{"type":"enabled"}"#;
    for round in 0..10u64 {
        let others = round * 59 + 1..=(round + 1) * 59;
        append_raw_versions(&store, "other", "o", others, r#"{"type":"x"}"#)
            .await
            .unwrap();
        append_raw(&store, "users", "a", round + 1, enabled)
            .await
            .unwrap();
    }
    append_raw_versions(&store, "users", "b", 1..=300, enabled)
        .await
        .unwrap();
    let whole = store
        .read_events(&["users"], Cursor::START, 1_000)
        .await
        .unwrap();
    let versions: Vec<(&str, u64)> = whole
        .iter()
        .map(|event| (event.aggregate_id.as_str(), event.version))
        .collect();
    let expected: Vec<(&str, u64)> = (1..=10)
        .map(|version| ("a", version))
        .chain((1..=300).map(|version| ("b", version)))
        .collect();
    assert_eq!(versions, expected);
    for limit in [1, 3] {
        let mut paged = Vec::new();
        let mut after = Cursor::START;
        loop {
            let page = store.read_events(&["users"], after, limit).await.unwrap();
            assert!(page.len() <= limit, "a page of {limit} held {}", page.len());
            let Some(last) = page.last() else { break };
            after = last.cursor;
            paged.extend(page);
        }
        assert_eq!(paged, whole, "pages of {limit}");
    }
    // As handlers read: `read_page`, whose pages a store may hand out packed and shared
    // between reads, gives the same rows.
    let mut paged = Vec::new();
    let mut after = Cursor::START;
    loop {
        let page = store.read_page(&["users"], after, 7).await.unwrap();
        assert!(page.len() <= 7, "a page of 7 held {}", page.len());
        let Some(last) = page.last_cursor() else {
            break;
        };
        after = last;
        paged.extend(page.into_iter().map(Result::unwrap));
    }
    assert_eq!(paged, whole, "read_page, pages of 7");
}

/// The stored event is compact JSON text with its `type` field, as the TypeScript library
/// writes it; the aggregate id and version are columns, not part of the JSON.
pub async fn stored_event_is_json_with_type<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    domain
        .commands(crate::domain::UserCommands::default())
        .execute("a", &crate::create_user("Ann"))
        .await
        .unwrap();
    let stored = &store.load("users", "a", 0).await.unwrap()[0];
    let json: serde_json::Value = serde_json::from_str(&stored.event).unwrap();
    assert_eq!(json, serde_json::json!({"type": "created", "name": "Ann"}));
    assert_eq!(
        (
            stored.stream.as_str(),
            stored.aggregate_id.as_str(),
            stored.version
        ),
        ("users", "a", 1)
    );
}

/// `last_cursor` is the start for empty streams and the last event's cursor otherwise.
pub async fn last_cursor_is_last_event<S: Store>(store: S) {
    assert_eq!(store.last_cursor(&["users"]).await.unwrap(), Cursor::START);
    append_raw(&store, "users", "a", 1, r#"{"type":"enabled"}"#)
        .await
        .unwrap();
    append_raw(&store, "posts", "p", 1, r#"{"type":"postArchived"}"#)
        .await
        .unwrap();
    let all = store
        .read_events(&["users", "posts"], Cursor::START, 10)
        .await
        .unwrap();
    assert_eq!(store.last_cursor(&["users"]).await.unwrap(), all[0].cursor);
    assert_eq!(
        store.last_cursor(&["users", "posts"]).await.unwrap(),
        all[1].cursor
    );
    assert_eq!(
        store.last_cursor(&["nothing"]).await.unwrap(),
        Cursor::START
    );
}

/// Bookmarks are created, replaced and kept apart by name.
pub async fn bookmarks_upsert_by_name<S: Store>(store: S) {
    for position in 1..=3 {
        append_raw(&store, "users", "a", position, r#"{"type":"enabled"}"#)
            .await
            .unwrap();
    }
    let events = store
        .read_events(&["users"], Cursor::START, 10)
        .await
        .unwrap();
    store.set_bookmark("one", events[0].cursor).await.unwrap();
    store.set_bookmark("two", events[2].cursor).await.unwrap();
    store.set_bookmark("one", events[1].cursor).await.unwrap();
    assert_eq!(store.bookmark("one").await.unwrap(), Some(events[1].cursor));
    assert_eq!(store.bookmark("two").await.unwrap(), Some(events[2].cursor));
    store.set_bookmark("one", Cursor::START).await.unwrap();
    assert_eq!(store.bookmark("one").await.unwrap(), Some(Cursor::START));
}

/// An event whose type the code does not know fails the load with an error naming it.
pub async fn unknown_event_type_fails_load<S: Store>(store: S) {
    append_raw(&store, "users", "a", 1, r#"{"type":"created","name":"A"}"#)
        .await
        .unwrap();
    append_raw(&store, "users", "a", 2, r#"{"type":"promoted"}"#)
        .await
        .unwrap();
    let promoted = store.load("users", "a", 1).await.unwrap()[0]
        .cursor
        .position;
    let error = Domain::new(store).load::<UserEvent>("a").await.unwrap_err();
    match &error {
        Error::Decode(DecodeError::UnknownType {
            stream,
            aggregate_id,
            event_type,
            position,
            ..
        }) => {
            assert_eq!(
                (stream.as_str(), aggregate_id.as_str(), event_type.as_str()),
                ("users", "a", "promoted")
            );
            // Loads read without positions, then again with them for the error.
            assert_eq!(*position, promoted);
        }
        other => panic!("expected an unknown type error, got {other:?}"),
    }
    assert!(
        error.to_string().contains("created, disabled, enabled"),
        "{error}"
    );
}

/// An event whose JSON does not fit its type fails a handler with an error naming the event;
/// under `continue_on_error` it is skipped and the rest is handled.
pub async fn malformed_event_fails_handler<S: Store>(store: S) {
    append_raw(&store, "users", "a", 1, r#"{"type":"created","name":"A"}"#)
        .await
        .unwrap();
    append_raw(&store, "users", "b", 1, r#"{"type":"created","nom":"B"}"#)
        .await
        .unwrap();
    append_raw(&store, "users", "c", 1, r#"{"type":"promoted"}"#)
        .await
        .unwrap();
    append_raw(&store, "users", "d", 1, r#"{"type":"created","name":"D"}"#)
        .await
        .unwrap();
    let domain = Domain::new(store.clone());
    let strict = domain
        .handler("strict", PostsModel::default())
        .stream::<UserEvent>()
        .build();
    let error = strict.run_once().await.unwrap_err();
    match &error {
        Error::Handler {
            stream,
            aggregate_id,
            event_type,
            position,
            ..
        } => {
            assert_eq!(
                (stream.as_str(), aggregate_id.as_str(), event_type.as_str()),
                ("users", "b", "created")
            );
            let b = store.load("users", "b", 0).await.unwrap();
            assert_eq!(*position, b[0].cursor.position);
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert_eq!(strict.model().seen_ids(), ["a"]);

    let options = HandlerOptions {
        continue_on_error: true,
        ..HandlerOptions::default()
    };
    let skipped = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reports = std::sync::Arc::clone(&skipped);
    let lenient = domain
        .handler("lenient", PostsModel::default())
        .stream::<UserEvent>()
        .options(options)
        .on_error(move |error| {
            if let Error::Handler { event_type, .. } = error {
                reports.lock().unwrap().push(event_type.clone());
            }
        })
        .build();
    assert_eq!(lenient.run_once().await.unwrap(), 2);
    assert_eq!(lenient.model().seen_ids(), ["a", "d"]);
    assert_eq!(*skipped.lock().unwrap(), ["created", "promoted"]);
}

/// Collects what `replay` hands over, as (kind, version) pairs with the text.
async fn replayed<S: Store>(
    store: &S,
    aggregate_id: &str,
    after: u64,
    tag: Option<&str>,
) -> Vec<(&'static str, u64, String)> {
    let mut seen = Vec::new();
    store
        .replay("counters", aggregate_id, after, tag, |item| {
            seen.push(match item {
                Replayed::Snapshot { version, state } => ("snapshot", version, state.to_owned()),
                Replayed::Event {
                    version,
                    position,
                    event,
                } => {
                    assert!(
                        position.is_some_and(|position| position > 0),
                        "events carry their position"
                    );
                    ("event", version, event.to_owned())
                }
            });
            Ok(())
        })
        .await
        .unwrap();
    seen
}

/// `replay` hands over the snapshot with the asked tag first, then only the events after it;
/// without a matching or newer snapshot, the events after the asked version.
pub async fn replay_starts_from_matching_snapshot<S: Store>(store: S) {
    for version in 1..=4 {
        let json = format!(r#"{{"type":"incremented","n":{version}}}"#);
        append_raw(&store, "counters", "c", version, &json)
            .await
            .unwrap();
    }
    append_raw(&store, "counters", "other", 1, r#"{"type":"incremented"}"#)
        .await
        .unwrap();
    let snapshot = Snapshot {
        version: 2,
        tag: "v1".into(),
        state: r#"{"total":2}"#.into(),
    };
    store
        .save_snapshot("counters", "c", &snapshot)
        .await
        .unwrap();

    let with_snapshot = replayed(&store, "c", 0, Some("v1")).await;
    let kinds: Vec<(&str, u64)> = with_snapshot.iter().map(|(k, v, _)| (*k, *v)).collect();
    assert_eq!(kinds, [("snapshot", 2), ("event", 3), ("event", 4)]);
    assert_eq!(with_snapshot[0].2, r#"{"total":2}"#);
    assert!(with_snapshot[2].2.contains(r#""n":4"#), "{with_snapshot:?}");

    let other_tag: Vec<(&str, u64)> = replayed(&store, "c", 0, Some("v2"))
        .await
        .iter()
        .map(|(k, v, _)| (*k, *v))
        .collect();
    assert_eq!(
        other_tag,
        [("event", 1), ("event", 2), ("event", 3), ("event", 4)]
    );
    let no_tag: Vec<(&str, u64)> = replayed(&store, "c", 1, None)
        .await
        .iter()
        .map(|(k, v, _)| (*k, *v))
        .collect();
    assert_eq!(no_tag, [("event", 2), ("event", 3), ("event", 4)]);
    // A snapshot no newer than the caller's version is of no use and not handed over.
    let past_snapshot: Vec<(&str, u64)> = replayed(&store, "c", 3, Some("v1"))
        .await
        .iter()
        .map(|(k, v, _)| (*k, *v))
        .collect();
    assert_eq!(past_snapshot, [("event", 4)]);
    assert!(replayed(&store, "nobody", 0, Some("v1")).await.is_empty());

    // A snapshot as new as the last event is the whole replay (PostgreSQL and MySQL then stop
    // after the snapshot's statement); an event appended after it without a new snapshot, as
    // another writer would, follows it.
    let current = Snapshot {
        version: 4,
        tag: "v1".into(),
        state: r#"{"total":10}"#.into(),
    };
    store
        .save_snapshot("counters", "c", &current)
        .await
        .unwrap();
    let kinds = |replayed: Vec<(&'static str, u64, String)>| {
        replayed
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(replayed(&store, "c", 0, Some("v1")).await),
        [("snapshot", 4)]
    );
    append_raw(
        &store,
        "counters",
        "c",
        5,
        r#"{"type":"incremented","n":5}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        kinds(replayed(&store, "c", 0, Some("v1")).await),
        [("snapshot", 4), ("event", 5)]
    );
    // The same without positions.
    let mut without = Vec::new();
    store
        .replay_without_positions("counters", "c", 0, Some("v1"), |item| {
            without.push(match item {
                Replayed::Snapshot { version, .. } => ("snapshot", version),
                Replayed::Event { version, .. } => ("event", version),
            });
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(without, [("snapshot", 4), ("event", 5)]);

    // A snapshot above the last event, and one of an aggregate with no events, are handed
    // over alone.
    let ahead = Snapshot {
        version: 9,
        tag: "v1".into(),
        state: r#"{"total":9}"#.into(),
    };
    store.save_snapshot("counters", "c", &ahead).await.unwrap();
    assert_eq!(
        kinds(replayed(&store, "c", 0, Some("v1")).await),
        [("snapshot", 9)]
    );
    store
        .save_snapshot("counters", "empty", &snapshot)
        .await
        .unwrap();
    assert_eq!(
        kinds(replayed(&store, "empty", 0, Some("v1")).await),
        [("snapshot", 2)]
    );

    // An error from the visitor ends the replay and comes back, on an event and on a snapshot.
    for tag in [None, Some("v1")] {
        let mut visits = 0;
        let outcome = store
            .replay("counters", "c", 0, tag, |_| {
                visits += 1;
                Err(Error::Config("stop here".into()))
            })
            .await;
        assert!(matches!(outcome, Err(Error::Config(_))), "{outcome:?}");
        assert_eq!(visits, 1, "tag {tag:?}");
    }
}
