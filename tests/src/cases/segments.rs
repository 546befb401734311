//! Segments: a handler split by a stable hash of the aggregate id, each segment with its own
//! bookmark, together handling every event once and each aggregate in order.

use std::collections::{BTreeMap, BTreeSet};

use evtstore::{Domain, Segment, Store};

use crate::cases::handlers::create_users;
use crate::domain::{PostsModel, UserCommand, UserCommands, UserEvent};

const SEGMENTS: u32 = 4;

/// Each segment handles exactly the events of the aggregates that hash to it, in order; all
/// segments together handle every event once, and each stores its own bookmark.
pub async fn segments_partition_the_events<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    let ids: Vec<String> = (0..16).map(|i| format!("user-{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    create_users(&domain, &refs).await;
    let users = domain.commands(UserCommands::default());
    for id in ids.iter().step_by(3) {
        users.execute(id, &UserCommand::Disable).await.unwrap();
        users.execute(id, &UserCommand::Enable).await.unwrap();
    }
    let total = 16 + 2 * ids.iter().step_by(3).count();

    let split = domain
        .handler("split", PostsModel::default())
        .stream::<UserEvent>()
        .segments(SEGMENTS)
        .page_size(3)
        .build();
    assert_eq!(split.segment_count(), SEGMENTS);
    let mut handled_by: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut handled = 0;
    for index in 0..SEGMENTS {
        let before = split.model().seen().len();
        handled += split.run_segment_once(index).await.unwrap();
        for seen in &split.model().seen()[before..] {
            assert_eq!(
                Segment::of(&seen.aggregate_id, SEGMENTS).index(),
                index,
                "{} handled by the wrong segment",
                seen.aggregate_id
            );
            handled_by
                .entry(seen.aggregate_id.clone())
                .or_default()
                .insert(index);
        }
        let segment = Segment::new(index, SEGMENTS).unwrap();
        assert_eq!(
            store.bookmark(&segment.bookmark("split")).await.unwrap(),
            Some(store.last_cursor(&["users"]).await.unwrap()),
            "segment {index} stores its own bookmark past every event"
        );
    }
    assert_eq!(handled, total);
    assert_eq!(handled_by.len(), ids.len(), "every aggregate was handled");
    assert!(
        handled_by.values().all(|segments| segments.len() == 1),
        "one aggregate, one segment: {handled_by:?}"
    );
    let used: BTreeSet<u32> = handled_by.values().flatten().copied().collect();
    assert!(used.len() > 1, "the hash spreads aggregates: {used:?}");
    // Per aggregate, versions in order and each once.
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for seen in split.model().seen() {
        versions
            .entry(seen.aggregate_id)
            .or_default()
            .push(seen.version);
    }
    for (id, versions) in versions {
        let expected: Vec<u64> = (1..=versions.len() as u64).collect();
        assert_eq!(versions, expected, "events of {id}");
    }
    assert_eq!(split.run_once().await.unwrap(), 0);
}

/// `run_once` runs every segment it can: one held by another runner is reported as busy
/// after the others have run.
pub async fn busy_segment_does_not_hold_up_the_others<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    let ids: Vec<String> = (0..16).map(|i| format!("user-{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    create_users(&domain, &refs).await;
    let busy = Segment::new(0, SEGMENTS).unwrap().bookmark("split");
    store
        .claim(
            &busy,
            "another-process",
            std::time::Duration::from_secs(120),
        )
        .await
        .unwrap()
        .expect("a claim nobody holds is granted");
    let split = domain
        .handler("split", PostsModel::default())
        .stream::<UserEvent>()
        .segments(SEGMENTS)
        .build();
    match split.run_once().await {
        Err(evtstore::Error::HandlerBusy { bookmark }) => assert_eq!(bookmark, busy),
        other => panic!("expected segment 0 to be busy, got {other:?}"),
    }
    let outside_zero = ids
        .iter()
        .filter(|id| Segment::of(id, SEGMENTS).index() != 0)
        .count();
    assert!(outside_zero > 0);
    assert_eq!(split.model().seen().len(), outside_zero);
    assert_eq!(store.bookmark(&busy).await.unwrap(), None);
}
