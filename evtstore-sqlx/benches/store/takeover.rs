//! Issue 8, takeover: how long a started handler takes to handle a new event after the runner
//! holding its claim died (killed: it stops renewing, and the lease must run out), and after
//! it was stopped (it lets the claim go at once).
//!
//! A dead holder is simulated within the process: the claim is taken with [`Store::claim`]
//! under an owner that never renews it, as a runner killed just after a renewal leaves it.

use std::time::{Duration, Instant};

use evtstore::{Aggregate, DEFAULT_LEASE, Domain, Store};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::ledger::{Arrivals, EntryCommands, LedgerEvent};
use crate::measure::{Lines, fresh, report_wait, rounds, runs};

/// The handlers' idle poll: the default.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// A shorter idle poll, for the hand-over.
const SHORT_IDLE_POLL: Duration = Duration::from_millis(100);

/// How long a runner that has just taken a claim takes to read, handle and bookmark one event,
/// at most, on this machine: the slack of each line's bound.
const RUN_SLACK: Duration = Duration::from_millis(250);

/// How often a started runner tries again to take a claim held elsewhere: the idle poll, at
/// most a third of the lease (`HandlerBuilder::idle_poll` and `lease`).
fn claim_poll(idle_poll: Duration, lease: Duration) -> Duration {
    idle_poll.min(lease / 3)
}

/// The takeover after a dead holder with the default lease (once) and a 1 s lease, then the
/// hand-over after a stop with the default and a short idle poll.
pub(crate) async fn takeover<S: Store>(backend: &str, store: S) {
    if !runs(Lines::Projection) {
        return;
    }
    let domain = Domain::new(store.clone());
    // Where the standby's claim attempts fall against the lease's end (its phase) decides how
    // much of a claim poll it waits past the lease: the default lease once, at half a poll
    // (the average), the short lease at phases spread over the poll, from 0 (an attempt just
    // after the lease ends: the run's own time).
    let short_lease = Duration::from_secs(1);
    let short_rounds = rounds();
    let phases = [(DEFAULT_LEASE, vec![0.5])].into_iter().chain([(
        short_lease,
        (0..short_rounds)
            .map(|round| round as f64 / short_rounds as f64)
            .collect(),
    )]);
    for (lease, fractions) in phases {
        let poll = claim_poll(IDLE_POLL, lease);
        let mut waits = Vec::new();
        for fraction in &fractions {
            waits.push(after_dead_holder(&domain, &store, lease, poll.mul_f64(*fraction)).await);
        }
        let phases: Vec<String> = fractions
            .iter()
            .map(|fraction| format!("{:.2}", poll.mul_f64(*fraction).as_secs_f64()))
            .collect();
        report_wait(
            backend,
            &format!(
                "takeover after a dead holder, lease {:.0} s, idle poll {:.0} s, standby started \
                 {} s after the holder's last renewal",
                lease.as_secs_f64(),
                IDLE_POLL.as_secs_f64(),
                phases.join(", "),
            ),
            &waits,
            lease,
            (poll, RUN_SLACK),
        );
    }
    for idle_poll in [IDLE_POLL, SHORT_IDLE_POLL] {
        let poll = claim_poll(idle_poll, DEFAULT_LEASE);
        let mut waits = Vec::new();
        let rounds = rounds();
        for round in 0..rounds {
            // Stop the holder at a different point of the standby runner's claim poll in each
            // round: right after one of its attempts, then later and later.
            let phase = poll.mul_f64(round as f64 / rounds as f64);
            waits.push(after_stop(&domain, &store, idle_poll, phase).await);
        }
        report_wait(
            backend,
            &format!(
                "hand-over after a stop, idle poll {} ms",
                idle_poll.as_millis()
            ),
            &waits,
            Duration::ZERO,
            (poll, RUN_SLACK),
        );
    }
}

/// A bookmark name at the end of the ledger stream, as a handler that has caught up leaves it,
/// so that the runners measured start there.
pub(crate) async fn caught_up_bookmark<S: Store>(store: &S, prefix: &str) -> String {
    let name = fresh(prefix);
    let end = store
        .last_cursor(&[LedgerEvent::STREAM])
        .await
        .expect("last cursor");
    store.set_bookmark(&name, end).await.expect("bookmark");
    name
}

/// From the dead holder's claim (its last renewal) until a started runner of the same name,
/// started `phase` after it, has handled an event appended just after it started.
async fn after_dead_holder<S: Store>(
    domain: &Domain<S>,
    store: &S,
    lease: Duration,
    phase: Duration,
) -> Duration {
    let name = caught_up_bookmark(store, "takeover").await;
    // Taken before the claim is sent: the lease starts on the server a little later, so the
    // time measured errs on the long side.
    let lost = Instant::now();
    store
        .claim(&name, "dead-holder", lease)
        .await
        .expect("claim")
        .expect("a fresh claim is granted");
    tokio::time::sleep(phase).await;
    let (sender, mut arrivals) = unbounded_channel();
    let runner = domain
        .handler(name, Arrivals(sender))
        .stream::<LedgerEvent>()
        .lease(lease)
        .idle_poll(IDLE_POLL)
        .build()
        .start();
    let id = append_one(domain).await;
    let handled = arrival(&mut arrivals, &id, lease + Duration::from_secs(30)).await;
    runner.stop().await;
    handled - lost
}

/// From the call to stop a started runner that holds the claim until a second started runner,
/// standing by, has handled an event appended once the first has stopped. `phase` is how long
/// after the standby's first claim attempt the holder is stopped.
async fn after_stop<S: Store>(
    domain: &Domain<S>,
    store: &S,
    idle_poll: Duration,
    phase: Duration,
) -> Duration {
    let name = caught_up_bookmark(store, "handover").await;
    let runner = |sender| {
        domain
            .handler(name.clone(), Arrivals(sender))
            .stream::<LedgerEvent>()
            .idle_poll(idle_poll)
            .build()
            .start()
    };
    let (sender, mut first_arrivals) = unbounded_channel();
    let first = runner(sender);
    // Once it has handled an event, the first runner holds the claim.
    let id = append_one(domain).await;
    arrival(&mut first_arrivals, &id, Duration::from_secs(30)).await;
    let (sender, mut arrivals) = unbounded_channel();
    let standby = runner(sender);
    // The standby's first attempt, refused, takes a few milliseconds.
    tokio::time::sleep(Duration::from_millis(50) + phase).await;
    let stop = Instant::now();
    first.stop().await;
    let id = append_one(domain).await;
    let handled = arrival(&mut arrivals, &id, Duration::from_secs(30)).await;
    standby.stop().await;
    handled - stop
}

/// Appends one entry to an aggregate of its own; returns its id.
async fn append_one<S: Store>(domain: &Domain<S>) -> String {
    let id = fresh("beacon");
    domain
        .commands(EntryCommands)
        .execute(&id, &1)
        .await
        .expect("append");
    id
}

/// When the event of `id` was handled, waiting at most `within`.
pub(crate) async fn arrival(
    arrivals: &mut UnboundedReceiver<(String, Instant)>,
    id: &str,
    within: Duration,
) -> Instant {
    let wait = async {
        while let Some((seen, at)) = arrivals.recv().await {
            if seen == id {
                return at;
            }
        }
        panic!("the handler was dropped before it handled {id}");
    };
    tokio::time::timeout(within, wait)
        .await
        .unwrap_or_else(|_| panic!("{id} was not handled within {within:?}"))
}
