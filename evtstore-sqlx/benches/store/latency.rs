//! Issue 9, append-to-handled latency: how long after a single-event command a started
//! handler's model handles its event, when a wake-up wakes the handler (push) and when only its
//! idle poll does (polling).
//!
//! Each sample appends one entry to an aggregate of its own after a random pause, so that the
//! handler is idle when the append lands, and waits until the model has handled it before the
//! next. Two times per sample, both ending when the model's method runs ([`Arrivals`] takes the
//! instant there): from the moment `execute` returned (the append committed), and from just
//! before it was called.
//!
//! - Push, same store object: the handler polls once a minute, so only the store's wake-up
//!   can make it run within a sample.
//! - Push, another store object (where the backend wakes across objects: PostgreSQL's
//!   listener, which hears the trigger's `NOTIFY` for appends of any process): the same handler,
//!   the appends through a second store object with a pool of its own.
//! - Idle poll [`POLL`], handler on another store object: appends through the first object do
//!   not wake it on SQLite and MariaDB, so it runs at its next poll. On PostgreSQL its listener
//!   wakes it all the same: that line is push there too. The pause before each append is then
//!   random over a whole poll, so that appends land at every phase of it.

use std::time::{Duration, Instant};

use evtstore::{Domain, Store};
use tokio::sync::mpsc::unbounded_channel;

use crate::ledger::{Arrivals, EntryCommands, LedgerEvent};
use crate::measure::{Lines, fresh, report_latency, runs, scale};
use crate::takeover::{arrival, caught_up_bookmark};

/// Samples per line, before `EVTSTORE_BENCH_SCALE`.
const SAMPLES: usize = 200;

/// Appends made and handled before each line's samples, not measured: the runner takes its
/// claim and the pools open their connections.
const WARM_UP: usize = 5;

/// The idle poll of the push lines: longer than a whole line, so that every sample is a
/// wake-up's.
const PUSH_IDLE_POLL: Duration = Duration::from_secs(60);

/// The idle poll of the polling line (the TypeScript library polls every second by default).
const POLL: Duration = Duration::from_millis(100);

/// The pause before each append of the push lines: 5 to 20 ms.
const PUSH_PAUSE: (Duration, Duration) = (Duration::from_millis(5), Duration::from_millis(20));

/// The pause before each append of the polling line: 5 ms to 5 ms plus one poll.
const POLL_PAUSE: (Duration, Duration) = (Duration::from_millis(5), Duration::from_millis(105));

/// How long a sample waits for its event to be handled before the bench gives up.
const GIVE_UP: Duration = Duration::from_secs(90);

/// PostgreSQL's target for the push lines: p50 and p99.
pub(crate) const PG_TARGET: (Duration, Duration) =
    (Duration::from_millis(5), Duration::from_millis(20));

/// Whether appends through one store object wake the handlers of another on the same tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcrossObjects {
    /// They do (PostgreSQL: every store object listens for the trigger's notifications).
    Wake,
    /// They do not (SQLite, MariaDB): a handler on another object runs at its next poll.
    Poll,
}

/// The latency lines of one backend: `store` and `other` are two store objects on the same
/// tables. Run only when `EVTSTORE_BENCH_ONLY` is unset or `latency`.
pub(crate) async fn latency<S: Store>(
    backend: &str,
    store: S,
    other: S,
    across: AcrossObjects,
    target: Option<(Duration, Duration)>,
) {
    if !runs(Lines::Latency) {
        return;
    }
    let samples = SAMPLES * scale();
    let line = |scenario: &str, times: Times, target| {
        report_latency(
            backend,
            &format!("append-to-handled latency, {scenario}"),
            (&times.from_return, &times.from_call),
            times.early,
            target,
        );
    };
    let times = measure(&store, &store, PUSH_IDLE_POLL, PUSH_PAUSE, samples).await;
    line("push, same store object (idle poll 60 s)", times, target);
    if across == AcrossObjects::Wake {
        let times = measure(&store, &other, PUSH_IDLE_POLL, PUSH_PAUSE, samples).await;
        line(
            "push, appends through another store object (idle poll 60 s)",
            times,
            target,
        );
    }
    let times = measure(&other, &store, POLL, POLL_PAUSE, samples).await;
    let scenario = match across {
        AcrossObjects::Poll => "polling, handler on another store object (idle poll 100 ms)",
        AcrossObjects::Wake => {
            "idle poll 100 ms, handler on another store object (its listener wakes it: push)"
        }
    };
    line(scenario, times, None);
}

/// The samples of one line.
#[derive(Debug, Default)]
struct Times {
    /// From `execute` returning to the model handling the event (zero when it handled it
    /// first).
    from_return: Vec<Duration>,
    /// From just before `execute` was called to the model handling the event.
    from_call: Vec<Duration>,
    /// How many events the model handled before `execute` had returned.
    early: usize,
}

/// `samples` single-event commands through `appends`, each handled by a runner started on
/// `handles` with `idle_poll`, after a pause drawn from `pause`.
async fn measure<S: Store>(
    handles: &S,
    appends: &S,
    idle_poll: Duration,
    pause: (Duration, Duration),
    samples: usize,
) -> Times {
    let name = caught_up_bookmark(handles, "latency").await;
    let (sender, mut arrivals) = unbounded_channel();
    let runner = Domain::new(handles.clone())
        .handler(name, Arrivals(sender))
        .stream::<LedgerEvent>()
        .idle_poll(idle_poll)
        .build()
        .start();
    let entries = Domain::new(appends.clone()).commands(EntryCommands);
    let mut pauses = Pauses::new(pause);
    let mut times = Times::default();
    for sample in 0..WARM_UP + samples {
        tokio::time::sleep(pauses.next()).await;
        let id = fresh("latency");
        let called = Instant::now();
        entries.execute(&id, &1).await.expect("append");
        let returned = Instant::now();
        let handled = arrival(&mut arrivals, &id, GIVE_UP).await;
        if sample < WARM_UP {
            continue;
        }
        if handled < returned {
            times.early += 1;
        }
        times
            .from_return
            .push(handled.saturating_duration_since(returned));
        times.from_call.push(handled - called);
    }
    runner.stop().await;
    times
}

/// Pauses spread evenly at random over a range (xorshift: the bench needs no better).
#[derive(Debug)]
struct Pauses {
    state: u64,
    shortest: Duration,
    spread: Duration,
}

impl Pauses {
    fn new((shortest, longest): (Duration, Duration)) -> Self {
        Pauses {
            state: 0x9E37_79B9_7F4A_7C15,
            shortest,
            spread: longest - shortest,
        }
    }

    fn next(&mut self) -> Duration {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let fraction = (self.state >> 11) as f64 / (1_u64 << 53) as f64;
        self.shortest + self.spread.mul_f64(fraction)
    }
}
