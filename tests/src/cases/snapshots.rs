//! Aggregate persistence: snapshots written, used, ignored after a fold change, kept apart.

use evtstore::{Domain, DomainOptions, Snapshot, Store};

use crate::domain::{
    Counter, CounterCommands, CounterCommandsExt, CounterCommandsV2, CounterCommandsV2Ext,
    CounterEvent, CounterEventV2,
};

/// A domain without the aggregate cache, so every load goes to the store.
fn uncached<S: Store>(store: &S) -> Domain<S> {
    Domain::with_options(
        store.clone(),
        DomainOptions {
            cache_capacity: 0,
            ..DomainOptions::default()
        },
    )
}

/// A command on an aggregate with snapshots stores its state with the fold's tag.
pub async fn snapshot_written_with_tag<S: Store>(store: S) {
    let counters = Domain::new(store.clone()).commands(CounterCommands);
    counters.increment("c", 3).await.unwrap();
    let snapshot = store
        .snapshot("counters", "c")
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!((snapshot.version, snapshot.tag.as_str()), (3, "v1"));
    let state: Counter = serde_json::from_str(&snapshot.state).unwrap();
    assert_eq!(state.total, 3);
    counters.increment("c", 2).await.unwrap();
    assert_eq!(
        store
            .snapshot("counters", "c")
            .await
            .unwrap()
            .unwrap()
            .version,
        5
    );
}

/// A load starts from the snapshot and folds only the events after it.
pub async fn snapshot_used_on_load<S: Store>(store: S) {
    uncached(&store)
        .commands(CounterCommands)
        .increment("c", 3)
        .await
        .unwrap();
    // A snapshot whose state differs from the fold of the events shows whether it was used.
    let planted = Snapshot {
        version: 3,
        tag: "v1".into(),
        state: r#"{"total":100}"#.into(),
    };
    store
        .save_snapshot("counters", "c", &planted)
        .await
        .unwrap();
    let loaded = uncached(&store).load::<CounterEvent>("c").await.unwrap();
    assert_eq!((loaded.version, loaded.total), (3, 100));
    // Events after the snapshot are folded on top of it.
    let after = uncached(&store)
        .commands(CounterCommands)
        .increment("c", 2)
        .await
        .unwrap();
    assert_eq!((after.version, after.total), (5, 102));
    let reloaded = uncached(&store).load::<CounterEvent>("c").await.unwrap();
    assert_eq!((reloaded.version, reloaded.total), (5, 102));
}

/// After the fold changes (a new tag), the old snapshot is ignored, the state is rebuilt
/// from all events, and the next command stores a snapshot under the new tag.
pub async fn snapshot_with_other_tag_is_ignored_and_rewritten<S: Store>(store: S) {
    uncached(&store)
        .commands(CounterCommands)
        .increment("c", 3)
        .await
        .unwrap();
    let rebuilt = uncached(&store).load::<CounterEventV2>("c").await.unwrap();
    assert_eq!((rebuilt.version, rebuilt.total), (3, 30));
    let after = uncached(&store)
        .commands(CounterCommandsV2)
        .increment("c", 1)
        .await
        .unwrap();
    assert_eq!((after.version, after.total), (4, 40));
    let snapshot = store.snapshot("counters", "c").await.unwrap().unwrap();
    assert_eq!((snapshot.version, snapshot.tag.as_str()), (4, "v2"));
    assert_eq!(
        serde_json::from_str::<Counter>(&snapshot.state)
            .unwrap()
            .total,
        40
    );
}

/// Two aggregates of one stream never see each other's snapshots (the TypeScript memory
/// provider loaded the wrong one and appended to the wrong aggregate).
pub async fn snapshots_of_two_aggregates_are_independent<S: Store>(store: S) {
    let counters = uncached(&store).commands(CounterCommands);
    counters.increment("a", 5).await.unwrap();
    let b = counters.increment("b", 1).await.unwrap();
    assert_eq!((b.version, b.total), (1, 1));
    assert_eq!(
        store
            .snapshot("counters", "a")
            .await
            .unwrap()
            .unwrap()
            .version,
        5
    );
    assert_eq!(
        store
            .snapshot("counters", "b")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert_eq!(store.load("counters", "a", 0).await.unwrap().len(), 5);
    assert_eq!(store.load("counters", "b", 0).await.unwrap().len(), 1);
    assert_eq!(store.snapshot("counters", "nobody").await.unwrap(), None);
    assert_eq!(store.snapshot("users", "a").await.unwrap(), None);
}

/// A snapshot that does not decode is ignored and the state rebuilt from the events.
pub async fn malformed_snapshot_is_rebuilt<S: Store>(store: S) {
    uncached(&store)
        .commands(CounterCommands)
        .increment("c", 2)
        .await
        .unwrap();
    let broken = Snapshot {
        version: 2,
        tag: "v1".into(),
        state: "not json".into(),
    };
    store.save_snapshot("counters", "c", &broken).await.unwrap();
    let loaded = uncached(&store).load::<CounterEvent>("c").await.unwrap();
    assert_eq!((loaded.version, loaded.total), (2, 2));
}

/// Saving a snapshot replaces the stored one; an older one under the same tag does not
/// replace a newer one.
pub async fn snapshot_save_keeps_newest<S: Store>(store: S) {
    let snapshot = |version, tag: &str| Snapshot {
        version,
        tag: tag.into(),
        state: format!("{version}"),
    };
    // Each save, then the snapshot the store must hold after it.
    let steps = [
        ((2, "v1"), (2, "v1")),
        ((5, "v1"), (5, "v1")),
        ((3, "v1"), (5, "v1")),
        ((1, "v2"), (1, "v2")),
    ];
    for ((version, tag), (kept_version, kept_tag)) in steps {
        store
            .save_snapshot("counters", "c", &snapshot(version, tag))
            .await
            .unwrap();
        let stored = store.snapshot("counters", "c").await.unwrap();
        assert_eq!(
            stored,
            Some(snapshot(kept_version, kept_tag)),
            "after saving {version}/{tag}"
        );
    }
}
