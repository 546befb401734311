//! Timing and reporting: the best of three alternating runs, and one markdown line per
//! scenario.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `EVTSTORE_BENCH_SCALE`: multiplies every count (default 1).
pub(crate) fn scale() -> usize {
    std::env::var("EVTSTORE_BENCH_SCALE")
        .ok()
        .and_then(|scale| scale.parse().ok())
        .unwrap_or(1)
}

/// The groups of lines `EVTSTORE_BENCH_ONLY` chooses from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lines {
    /// `appends`: the append and load scenarios.
    Appends,
    /// `catchup`: the handler catch-up, gap-safety and MariaDB side-by-side lines.
    CatchUp,
    /// `projection`: issue 8's catch-up into a table and takeover lines.
    Projection,
    /// `latency`: issue 9's append-to-handled latency lines.
    Latency,
}

/// Whether `EVTSTORE_BENCH_ONLY` lets these lines run: all of them when it is unset. The
/// catch-up group runs under every value but `projection` and `latency`, as it did before
/// those groups existed.
pub(crate) fn runs(lines: Lines) -> bool {
    let Ok(only) = std::env::var("EVTSTORE_BENCH_ONLY") else {
        return true;
    };
    match lines {
        Lines::Appends => only == "appends",
        Lines::CatchUp => only != "projection" && only != "latency",
        Lines::Projection => only == "projection",
        Lines::Latency => only == "latency",
    }
}

/// `EVTSTORE_BENCH_ROUNDS`: how many times each measurement runs, keeping the fastest
/// (default 3). More rounds help on a loaded machine.
pub(crate) fn rounds() -> usize {
    std::env::var("EVTSTORE_BENCH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(3)
        .max(1)
}

static RUN: AtomicUsize = AtomicUsize::new(0);

/// A prefix no other measurement of this run uses, for aggregate ids.
pub(crate) fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", RUN.fetch_add(1, Ordering::Relaxed))
}

/// The fastest of [`rounds`] runs of each, alternating.
pub(crate) async fn best_of_rounds<A, B, FA, FB>(store: A, baseline: B) -> (Duration, Duration)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = Duration>,
    FB: Future<Output = Duration>,
{
    fastest(&paired_rounds(store, baseline).await)
}

/// [`rounds`] rounds, each a run of the store and then a run of the baseline: (store,
/// baseline) for each round.
pub(crate) async fn paired_rounds<A, B, FA, FB>(
    mut store: A,
    mut baseline: B,
) -> Vec<(Duration, Duration)>
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = Duration>,
    FB: Future<Output = Duration>,
{
    let mut pairs = Vec::with_capacity(rounds());
    for _ in 0..rounds() {
        let store = store().await;
        pairs.push((store, baseline().await));
    }
    pairs
}

/// Runs of `run` operations of the store, each followed by a run of as many of the baseline,
/// `count` of each side in all, every operation timed alone: the median time of the store's
/// and of the baseline's. A run timed whole adds every pause of a busy machine to its side;
/// the median of single operations leaves those out of both.
///
/// The runs keep the order of the rounds, each operation after another of its kind, as in a
/// service that loads one aggregate after another. Alternated one by one, the store's loads
/// read faster: on PostgreSQL a load of the store after one of the baseline took about a
/// tenth less time than after one of its own (`BENCHMARKS.md`), which would flatter the store.
pub(crate) async fn single_medians<A, B, FA, FB>(
    mut store: A,
    mut baseline: B,
    (run, count): (usize, usize),
) -> (Duration, Duration)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    let run = run.max(1);
    let mut store_times = Vec::with_capacity(count);
    let mut baseline_times = Vec::with_capacity(count);
    for _ in 0..count.div_ceil(run) {
        for _ in 0..run {
            let start = Instant::now();
            store().await;
            store_times.push(start.elapsed());
        }
        for _ in 0..run {
            let start = Instant::now();
            baseline().await;
            baseline_times.push(start.elapsed());
        }
    }
    (
        percentile(&store_times, 0.5),
        percentile(&baseline_times, 0.5),
    )
}

/// The fastest store run and the fastest baseline run, which may come from different rounds.
pub(crate) fn fastest(pairs: &[(Duration, Duration)]) -> (Duration, Duration) {
    pairs
        .iter()
        .fold((Duration::MAX, Duration::MAX), |(store, baseline), pair| {
            (store.min(pair.0), baseline.min(pair.1))
        })
}

/// The round whose ratio of store time to baseline time is the median of all rounds'. The
/// fastest of each side may come from different moments of a machine whose speed drifts; a
/// store run and the baseline run right after it share one moment, so this is the steadier
/// figure for a ratio near its target.
pub(crate) fn median_pair(pairs: &[(Duration, Duration)]) -> (Duration, Duration) {
    let mut pairs = pairs.to_vec();
    pairs.sort_by(|(s1, b1), (s2, b2)| {
        (s1.as_secs_f64() / b1.as_secs_f64()).total_cmp(&(s2.as_secs_f64() / b2.as_secs_f64()))
    });
    pairs[pairs.len() / 2]
}

pub(crate) fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// Store throughput at least this fraction of the baseline's.
    AtLeast(f64),
    /// Store time at most this fraction of the baseline's.
    AtMost(f64),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::AtLeast(x) => write!(f, ">= {x}x throughput"),
            Target::AtMost(x) => write!(f, "<= {x}x time"),
        }
    }
}

/// Prints the table's header.
pub(crate) fn header() {
    println!("| backend | scenario | evtstore | plain sqlx | ratio | target | |");
    println!("|---|---|---|---|---|---|---|");
}

/// One result line: throughput ratio (higher is better) or time ratio (lower is better).
pub(crate) fn report(
    backend: &str,
    scenario: &str,
    store: Duration,
    baseline: Duration,
    count: usize,
    target: Target,
) {
    let (ratio, verdict) = match target {
        Target::AtLeast(target) => {
            let ratio = baseline.as_secs_f64() / store.as_secs_f64();
            (ratio, if ratio >= target { "met" } else { "MISSED" })
        }
        Target::AtMost(target) => {
            let ratio = store.as_secs_f64() / baseline.as_secs_f64();
            (ratio, if ratio <= target { "met" } else { "MISSED" })
        }
    };
    println!(
        "| {backend} | {scenario} | {:.0}/s ({:.1} ms) | {:.0}/s ({:.1} ms) | {ratio:.2}x | {target} | {verdict} |",
        per_second(count, store),
        store.as_secs_f64() * 1e3,
        per_second(count, baseline),
        baseline.as_secs_f64() * 1e3,
    );
}

/// A line comparing the store with another design of the same store, `count` commands each:
/// how much slower `with` (the design measured) is than `without` (the other one).
pub(crate) fn report_cost(
    backend: &str,
    scenario: &str,
    (with, without): (&str, &str),
    (with_time, without_time): (Duration, Duration),
    count: usize,
    max_cost: f64,
) {
    let cost = 1.0 - without_time.as_secs_f64() / with_time.as_secs_f64();
    println!(
        "| {backend} | {scenario} | {:.0}/s {with} | {:.0}/s {without} | {:.1}% slower | <= {:.0}% | {} |",
        per_second(count, with_time),
        per_second(count, without_time),
        cost * 100.0,
        max_cost * 100.0,
        if cost <= max_cost { "met" } else { "MISSED" },
    );
}

/// A line comparing two designs of the same store, `count` commands each, as the throughput of
/// `now` over that of `before` (higher is better).
pub(crate) fn report_speedup(
    backend: &str,
    scenario: &str,
    (now, before): (&str, &str),
    (now_time, before_time): (Duration, Duration),
    count: usize,
) {
    println!(
        "| {backend} | {scenario} | {:.0}/s {now} | {:.0}/s {before} | {:.2}x | | |",
        per_second(count, now_time),
        per_second(count, before_time),
        before_time.as_secs_f64() / now_time.as_secs_f64(),
    );
}

/// A line comparing two ways of doing the same `count` events, with no target: the
/// throughput and time of each and the throughput of `first` over that of `second` (higher is
/// better for `first`).
pub(crate) fn report_versus(
    backend: &str,
    scenario: &str,
    (first, second): (&str, &str),
    (first_time, second_time): (Duration, Duration),
    count: usize,
) {
    println!(
        "| {backend} | {scenario} | {:.0}/s ({:.1} ms) {first} | {:.0}/s ({:.1} ms) {second} | {:.2}x | | |",
        per_second(count, first_time),
        first_time.as_secs_f64() * 1e3,
        per_second(count, second_time),
        second_time.as_secs_f64() * 1e3,
        second_time.as_secs_f64() / first_time.as_secs_f64(),
    );
}

/// A line of waits: each one measured, how far past `lease` the longest went, and whether
/// every one stayed within `lease` plus one claim poll plus the slack of a run.
pub(crate) fn report_wait(
    backend: &str,
    scenario: &str,
    waits: &[Duration],
    lease: Duration,
    (claim_poll, slack): (Duration, Duration),
) {
    let seconds = |time: Duration| format!("{:.2} s", time.as_secs_f64());
    let listed: Vec<String> = waits.iter().copied().map(seconds).collect();
    let longest = waits.iter().copied().max().unwrap_or_default();
    let (past, bound) = if lease.is_zero() {
        (String::new(), String::new())
    } else {
        (
            format!("lease + {}", seconds(longest.saturating_sub(lease))),
            "lease + ".to_owned(),
        )
    };
    println!(
        "| {backend} | {scenario} | {} | | {past} | <= {bound}claim poll ({}) + {} | {} |",
        listed.join(", "),
        seconds(claim_poll),
        seconds(slack),
        if longest <= lease + claim_poll + slack {
            "met"
        } else {
            "MISSED"
        },
    );
}

/// A line of latencies: p50, p99 and the longest of each series (`from_return`, then
/// `from_call`), how many samples and how many of them were handled before the command
/// returned, and whether `from_return` met the `target` p50 and p99, when there is one.
pub(crate) fn report_latency(
    backend: &str,
    scenario: &str,
    (from_return, from_call): (&[Duration], &[Duration]),
    early: usize,
    target: Option<(Duration, Duration)>,
) {
    let millis = |time: Duration| time.as_secs_f64() * 1e3;
    let summary = |times: &[Duration]| {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            millis(percentile(times, 0.50)),
            millis(percentile(times, 0.99)),
            millis(percentile(times, 1.0)),
        )
    };
    let (bound, verdict) = match target {
        Some((p50, p99)) => (
            format!("p50 <= {:.0} ms, p99 <= {:.0} ms", millis(p50), millis(p99)),
            if percentile(from_return, 0.50) <= p50 && percentile(from_return, 0.99) <= p99 {
                "met"
            } else {
                "MISSED"
            },
        ),
        None => (String::new(), ""),
    };
    println!(
        "| {backend} | {scenario} | after the command returned: {} | from the call: {} | {} samples, {early} handled before the command returned | {bound} | {verdict} |",
        summary(from_return),
        summary(from_call),
        from_return.len(),
    );
}

/// The nearest-rank percentile `fraction` (0 to 1) of `times`: the smallest time that at
/// least that fraction of them do not exceed.
fn percentile(times: &[Duration], fraction: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .copied()
        .unwrap_or_default()
}
