//! Claims: one runner per handler across processes, and fencing of a runner whose claim was
//! taken over.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use evtstore::{Cursor, Domain, Error, HandlerOptions, Store};

use crate::ReadEvents;
use crate::cases::handlers::{create_users, posts_model, wait_until};
use crate::projection::{ProjectionStore, RowWriter, Table};

/// Longer than any test: a claim with this lease is held for the whole test.
const HELD: Duration = Duration::from_secs(120);

/// The cursors of the users stream, in order.
async fn user_cursors<S: Store>(store: &S) -> Vec<Cursor> {
    let events = store
        .read_events(&["users"], Cursor::START, 100)
        .await
        .unwrap();
    events.into_iter().map(|event| event.cursor).collect()
}

/// While another runner (another process) holds a handler's claim, a run of the handler is
/// refused and handles nothing, and nobody else can claim it; once it is let go, the run goes
/// ahead at once.
pub async fn second_runner_is_refused_while_first_holds<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a"]).await;
    let elsewhere = store
        .claim("model", "another-process", HELD)
        .await
        .unwrap()
        .expect("a claim nobody holds is granted");
    let model = posts_model(&domain, "model", HandlerOptions::default());
    match model.run_once().await {
        Err(Error::HandlerBusy { bookmark }) => assert_eq!(bookmark, "model"),
        other => panic!("expected HandlerBusy, got {other:?}"),
    }
    assert!(model.model().seen().is_empty());
    assert_eq!(store.claim("model", "third", HELD).await.unwrap(), None);

    store.release_claim(&elsewhere.claim).await.unwrap();
    assert_eq!(model.run_once().await.unwrap(), 1);
}

/// A started runner holds the claim while it runs, so that a second handler object of the
/// same name is refused; `stop` lets go at once and the other takes over where it stopped.
pub async fn stopped_runner_hands_over_at_once<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    let first = domain
        .handler("model", crate::domain::PostsModel::default())
        .stream::<crate::domain::UserEvent>()
        .idle_poll(Duration::from_millis(10))
        .build();
    let running = first.start();
    create_users(&domain, &["a", "b"]).await;
    wait_until(|| first.model().seen().len() == 2).await;
    let second = posts_model(&domain, "model", HandlerOptions::default());
    assert!(matches!(
        second.run_once().await,
        Err(Error::HandlerBusy { .. })
    ));
    running.stop().await;
    create_users(&domain, &["c"]).await;
    assert_eq!(second.run_once().await.unwrap(), 1);
    assert_eq!(second.model().seen_ids(), ["c"]);
}

/// A runner whose lease ran out and whose claim another runner took cannot renew it, move the
/// bookmark, or commit a projection page any more; letting go of the lost claim does not free
/// the new holder's.
pub async fn taken_over_claim_cannot_move_bookmark<S: ProjectionStore>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "b"]).await;
    let cursors = user_cursors(&store).await;
    let paused = store
        .claim("model", "paused", Duration::from_millis(1))
        .await
        .unwrap()
        .expect("a claim nobody holds is granted");
    store
        .set_claimed_bookmark(&paused.claim, cursors[0], Duration::from_millis(1))
        .await
        .unwrap();
    // The paused runner's lease runs out; another runner takes the claim over.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let successor = store
        .claim("model", "successor", HELD)
        .await
        .unwrap()
        .expect("an expired claim is taken over");
    assert!(successor.claim.epoch > paused.claim.epoch);
    assert_eq!(successor.bookmark, Some(cursors[0]));

    let lost = |result: Result<(), Error>| {
        assert!(
            matches!(result, Err(Error::ClaimLost { .. })),
            "expected ClaimLost, got {result:?}"
        );
    };
    lost(
        store
            .set_claimed_bookmark(&paused.claim, cursors[1], HELD)
            .await,
    );
    lost(store.renew_claim(&paused.claim, HELD).await);
    let table = Table::new("fenced_rows");
    store.create_table(&table).await;
    let mut transaction = store.begin().await.unwrap();
    transaction
        .insert_row(&table, (99, "late".to_owned()))
        .await
        .unwrap();
    lost(
        store
            .commit_claimed(transaction, &paused.claim, cursors[1], HELD)
            .await,
    );
    assert!(
        store.rows(&table).await.is_empty(),
        "a fenced commit keeps nothing"
    );
    assert_eq!(store.bookmark("model").await.unwrap(), Some(cursors[0]));

    store.release_claim(&paused.claim).await.unwrap();
    assert_eq!(store.claim("model", "third", HELD).await.unwrap(), None);
    store
        .set_claimed_bookmark(&successor.claim, cursors[1], HELD)
        .await
        .unwrap();
    assert_eq!(store.bookmark("model").await.unwrap(), Some(cursors[1]));
}

/// A started runner paused past its lease (here: by a slow model) has its claim taken over
/// by another runner; when it resumes, its bookmark write is refused and the new holder's
/// bookmark stays.
pub async fn runner_paused_past_its_lease_cannot_move_bookmark<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "b"]).await;
    let lost_claims = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&lost_claims);
    let batches = Arc::new(AtomicUsize::new(0));
    let started = Arc::clone(&batches);
    let model = domain
        .handler("model", crate::domain::PostsModel::default())
        .stream::<crate::domain::UserEvent>()
        .page_size(1)
        .lease(Duration::from_millis(200))
        .before_batch(move || {
            started.fetch_add(1, Ordering::SeqCst);
        })
        .on_error(move |error| {
            if matches!(error, Error::ClaimLost { .. }) {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build();
    model.model().slow_millis.store(600, Ordering::SeqCst);
    let running = model.start();
    // Once its first page has begun, the runner holds the claim; it renews it only when it
    // writes, and handling the first event takes three leases.
    wait_until(|| batches.load(Ordering::SeqCst) > 0).await;
    let usurper = loop {
        if let Some(taken) = store.claim("model", "usurper", HELD).await.unwrap() {
            break taken;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(usurper.bookmark, None, "the runner had stored nothing yet");
    store
        .set_claimed_bookmark(&usurper.claim, Cursor::START, HELD)
        .await
        .unwrap();
    // The runner resumes, tries to store the first event's bookmark, and is told it lost
    // the claim.
    wait_until(|| lost_claims.load(Ordering::SeqCst) > 0).await;
    assert!(!model.model().seen().is_empty());
    assert_eq!(store.bookmark("model").await.unwrap(), Some(Cursor::START));
    running.stop().await;
    assert_eq!(store.bookmark("model").await.unwrap(), Some(Cursor::START));
    // The runner let go of nothing it did not hold: the usurper still holds the claim.
    store.renew_claim(&usurper.claim, HELD).await.unwrap();
}

/// The owner that holds a claim may take it again at once (a runner whose release failed is
/// not locked out by its own lease); the new grant fences the old one.
pub async fn owner_takes_its_claim_again<S: Store>(store: S) {
    let first = store
        .claim("model", "runner", HELD)
        .await
        .unwrap()
        .expect("a claim nobody holds is granted");
    let again = store
        .claim("model", "runner", HELD)
        .await
        .unwrap()
        .expect("the holder takes its claim again");
    assert!(again.claim.epoch > first.claim.epoch);
    assert!(matches!(
        store
            .set_claimed_bookmark(&first.claim, Cursor::START, HELD)
            .await,
        Err(Error::ClaimLost { .. })
    ));
    assert_eq!(store.claim("model", "other", HELD).await.unwrap(), None);
}

/// A runner standing by for a claim takes it as soon as its holder stops, not at its next
/// claim poll (here 10 s, a third of the lease; the bound below is far under it).
pub async fn standby_takes_over_when_the_holder_stops<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    let runner = || {
        domain
            .handler("model", crate::domain::PostsModel::default())
            .stream::<crate::domain::UserEvent>()
            .idle_poll(Duration::from_secs(60))
            .lease(Duration::from_secs(30))
            .build()
    };
    let first = runner();
    let first_running = first.start();
    create_users(&domain, &["a"]).await;
    wait_until(|| first.model().seen().len() == 1).await;
    let second = runner();
    let second_running = second.start();
    // Let the second runner try the claim once and stand by.
    tokio::time::sleep(Duration::from_millis(100)).await;
    first_running.stop().await;
    let stopped = std::time::Instant::now();
    let bound = Duration::from_secs(3);
    loop {
        let holder = store.claim_holder("model").await.unwrap();
        if holder.is_some_and(|holder| holder.owner == second.owner()) {
            break;
        }
        assert!(
            stopped.elapsed() < bound,
            "the standby did not take the claim within {bound:?} of the stop"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    create_users(&domain, &["b"]).await;
    wait_until(|| second.model().seen().len() == 1).await;
    assert_eq!(second.model().seen_ids(), ["b"]);
    second_running.stop().await;
}
