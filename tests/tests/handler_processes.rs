//! Handlers across processes, with real OS processes killed by SIGKILL: exactly-once
//! transactional projections, one runner per handler, and segments, on a SQLite file, a
//! PostgreSQL schema and a MariaDB database.
//!
//! Every handler runs in a `projector` process (`src/bin/projector.rs`) started with
//! [`std::process::Command`]; the test process appends events meanwhile (4 tasks, each on its
//! own aggregates, commands of one and two events) and reads the database to decide what to
//! kill and to check the outcome:
//!
//! - **Kills** (`*_projection_survives_kills`): one projector at a time keeps the fold tables
//!   ([`evtstore_tests::fold_table`]); it is killed [`KILLS`] times, each time a random while
//!   after it was seen committing, and restarted. After every kill the tables must be exactly
//!   the fold of the events up to the stored bookmark (nothing lost, nothing applied twice, the
//!   bookmark and the tables from the same commits); at the end, of every event.
//! - **One runner** (`*_one_runner_*`): three projectors of one handler name; the holder of the
//!   claim (read from the bookmarks table: its owner names the process id) is killed twice and
//!   another process must take over; the takeover time is printed. Transactional: every event
//!   applied exactly once. Plain: every event handled at least once, by one process at a time
//!   (no two processes' handling intervals overlap), and in order (a takeover resumes at or
//!   before the first event not yet handled; each runner's stretch goes forward).
//! - **Segments** (`*_segments_*`): three projectors of a handler split into 4 segments, at
//!   most 2 per process; one is killed mid-run; every event applied exactly once and each
//!   aggregate's events in version order (the fold refuses anything else).
//!
//! The ignored `*_without_claims_*` tests run the same checks on handlers that take no claim
//! (bookmarks in memory: every process runs its own copy, which is what two processes did
//! before claims): they fail, which shows the checks catch events handled twice and handled
//! concurrently.
//!
//! Timing decides when to kill, never the outcome: the test waits for the database to show
//! progress or completion, within generous bounds.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use evtstore::{Cursor, Domain, Store};
use evtstore_sqlx::SqlStore;
use evtstore_sqlx::sqlx;
use evtstore_tests::create_user;
use evtstore_tests::domain::{UserCommand, UserCommands};
use evtstore_tests::fold_table::{FoldTables, events_until, expected_fold};

use crate::common::Backend;
use crate::common::processes::Processes;

/// Kills of the projector in the kill tests.
const KILLS: usize = 6;
/// Writer tasks in the test process, each on aggregates of its own.
const WRITER_TASKS: usize = 4;
/// Aggregates per writer task.
const AGGREGATES: usize = 5;
/// The pause of a writer task between two commands.
const WRITE_PAUSE: Duration = Duration::from_millis(15);
/// The lease of the projectors: short, so that takeovers after a kill are quick to wait for.
const LEASE: Duration = Duration::from_millis(800);
/// How long a projector may take to catch up or take over, at most: a bound, far above what a
/// run takes.
const PATIENCE: Duration = Duration::from_secs(90);

/// The tests of this file run one after another: each starts several processes.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Transactional,
    Plain,
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn sqlite_projection_survives_kills() {
    projection_survives_kills(Backend::Sqlite);
}

#[test]
fn postgres_projection_survives_kills() {
    projection_survives_kills(Backend::Postgres);
}

#[test]
fn mysql_projection_survives_kills() {
    projection_survives_kills(Backend::MySql);
}

#[test]
fn sqlite_one_runner_transactional() {
    one_runner(Backend::Sqlite, Mode::Transactional, true);
}

#[test]
fn postgres_one_runner_transactional() {
    one_runner(Backend::Postgres, Mode::Transactional, true);
}

#[test]
fn mysql_one_runner_transactional() {
    one_runner(Backend::MySql, Mode::Transactional, true);
}

#[test]
fn sqlite_one_runner_plain() {
    one_runner(Backend::Sqlite, Mode::Plain, true);
}

#[test]
fn postgres_one_runner_plain() {
    one_runner(Backend::Postgres, Mode::Plain, true);
}

#[test]
fn mysql_one_runner_plain() {
    one_runner(Backend::MySql, Mode::Plain, true);
}

#[test]
fn sqlite_segments_share_the_work() {
    segments(Backend::Sqlite);
}

#[test]
fn postgres_segments_share_the_work() {
    segments(Backend::Postgres);
}

#[test]
fn mysql_segments_share_the_work() {
    segments(Backend::MySql);
}

/// Three processes of one transactional handler without claims each try to apply every event:
/// the fold refuses the second application of each, so the projectors report failing events,
/// and the check of those reports fails. Ignored because it is expected to fail.
#[test]
#[ignore = "demonstrates what the checks catch; expected to fail"]
fn postgres_without_claims_transactional_applies_twice() {
    one_runner(Backend::Postgres, Mode::Transactional, false);
}

/// Three processes of one plain handler without claims handle events at the same time: the
/// one-at-a-time check fails. Ignored because it is expected to fail.
#[test]
#[ignore = "demonstrates what the checks catch; expected to fail"]
fn sqlite_without_claims_plain_runs_concurrently() {
    one_runner(Backend::Sqlite, Mode::Plain, false);
}

// ---------------------------------------------------------------------------------------
// The scenarios.

fn projection_survives_kills(backend: Backend) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(backend));
    let writers = Writers::start(&runtime, &setup.store);
    let mut random = Random::seeded();
    let mut processes = Processes::default();
    let mut bookmark = None;
    let mut kills_mid_stream = 0;
    for kill in 0..KILLS {
        let name = format!("projector-{kill}");
        processes.spawn(&name, setup.projector(Mode::Transactional, &[]));
        // Wait until this process has committed something, then let it run a random while, so
        // that the kill lands anywhere: inside a page's transaction, in its commit, between
        // pages, while idle.
        runtime.block_on(setup.wait_for_bookmark_past(&setup.name, bookmark));
        std::thread::sleep(Duration::from_millis(random.below(120)));
        processes.kill(&name);
        bookmark = runtime.block_on(setup.store.bookmark(&setup.name)).unwrap();
        let last = runtime
            .block_on(setup.store.last_cursor(&["users"]))
            .unwrap();
        if bookmark.is_some_and(|at| at < last) {
            kills_mid_stream += 1;
        }
        runtime.block_on(setup.check_fold_until(bookmark));
        println!("{backend:?}: kill {kill}: bookmark {bookmark:?}, last event {last:?}");
    }
    let appended = writers.finish(&runtime);
    processes.spawn("projector-last", setup.projector(Mode::Transactional, &[]));
    let last = runtime
        .block_on(setup.store.last_cursor(&["users"]))
        .unwrap();
    runtime.block_on(setup.wait_for_bookmarks_at(std::slice::from_ref(&setup.name), last));
    processes.kill("projector-last");
    runtime.block_on(setup.check_fold_until(Some(last)));
    setup.check_no_failed_events();
    println!(
        "{backend:?}: {KILLS} kills ({kills_mid_stream} while events were still coming), \
         {appended} events, fold exact (seed {})",
        random.seed
    );
    assert!(
        kills_mid_stream > 0,
        "every kill came after the projector had caught up: the test killed nothing mid-run"
    );
}

fn one_runner(backend: Backend, mode: Mode, claims: bool) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(backend));
    let writers = Writers::start(&runtime, &setup.store);
    let mut processes = Processes::default();
    let mut extra = Vec::new();
    if !claims {
        extra.push("--no-claim".to_owned());
    }
    let out = |index: usize| setup.dir.join(format!("handled-{index}.txt"));
    for index in 0..3 {
        let mut args = extra.clone();
        if mode == Mode::Plain {
            args.extend(["--out".to_owned(), out(index).display().to_string()]);
        }
        processes.spawn(&format!("projector-{index}"), setup.projector(mode, &args));
    }
    if claims {
        let mut bookmark = None;
        for kill in 0..2 {
            bookmark = runtime.block_on(setup.wait_for_bookmark_past(&setup.name, bookmark));
            let holder = runtime.block_on(setup.holder(&setup.name, &processes));
            let killed_at = Instant::now();
            processes.kill(&holder);
            let (successor, took) =
                runtime.block_on(setup.wait_for_new_holder(&setup.name, &holder, &processes));
            println!(
                "{backend:?} {mode:?}: kill {kill}: {holder} killed, {successor} took over in \
                 {:.0} ms (lease {} ms)",
                took.as_secs_f64() * 1000.0,
                LEASE.as_millis()
            );
            assert!(killed_at.elapsed() >= took);
        }
    }
    let appended = writers.finish(&runtime);
    let last = runtime
        .block_on(setup.store.last_cursor(&["users"]))
        .unwrap();
    if claims {
        runtime.block_on(setup.wait_for_bookmarks_at(std::slice::from_ref(&setup.name), last));
    } else {
        // Without a stored bookmark there is nothing to wait on: give the copies a bound.
        std::thread::sleep(Duration::from_secs(3));
    }
    // Stop the processes before looking at what they left.
    for index in 0..3 {
        let name = format!("projector-{index}");
        if processes.pid(&name).is_some() {
            processes.kill(&name);
        }
    }
    match mode {
        Mode::Transactional => {
            runtime.block_on(setup.check_fold_until(Some(last)));
            setup.check_no_failed_events();
        }
        Mode::Plain => {
            let all = runtime
                .block_on(events_until(&setup.store, Some(last)))
                .unwrap();
            let files: Vec<PathBuf> = (0..3).map(out).collect();
            check_plain_deliveries(&all, &files);
        }
    }
    println!("{backend:?} {mode:?}: {appended} events, checks hold");
}

fn segments(backend: Backend) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(backend));
    let writers = Writers::start(&runtime, &setup.store);
    let mut processes = Processes::default();
    let split = ["--segments", "4", "--max-claimed", "2"].map(str::to_owned);
    for index in 0..3 {
        processes.spawn(
            &format!("projector-{index}"),
            setup.projector(Mode::Transactional, &split),
        );
    }
    let names: Vec<String> = (0..4)
        .map(|index| {
            evtstore::Segment::new(index, 4)
                .unwrap()
                .bookmark(&setup.name)
        })
        .collect();
    // Every segment has committed something; kill whoever holds segment 0 then.
    for name in &names {
        runtime.block_on(setup.wait_for_bookmark_past(name, None));
    }
    let holder = runtime.block_on(setup.holder(&names[0], &processes));
    processes.kill(&holder);
    let (successor, took) =
        runtime.block_on(setup.wait_for_new_holder(&names[0], &holder, &processes));
    println!(
        "{backend:?} segments: {holder} killed, {successor} took segment 0 over in {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    let appended = writers.finish(&runtime);
    let last = runtime
        .block_on(setup.store.last_cursor(&["users"]))
        .unwrap();
    runtime.block_on(setup.wait_for_bookmarks_at(&names, last));
    let owners = runtime.block_on(setup.owners());
    for name in &names {
        let owner = owners.get(name).map_or("", String::as_str);
        let pid = pid_of_owner(owner);
        assert!(
            pid.and_then(|pid| processes.name_of(pid)).is_some(),
            "segment {name} is held by `{owner}`, not by a live projector"
        );
    }
    runtime.block_on(setup.check_fold_until(Some(last)));
    setup.check_no_failed_events();
    println!("{backend:?} segments: {appended} events, each applied once, in order");
}

// ---------------------------------------------------------------------------------------
// The database of one test, and what the test reads from it.

struct Setup {
    backend: Backend,
    url: String,
    store: SqlStore,
    tables: FoldTables,
    name: String,
    dir: PathBuf,
}

impl Setup {
    async fn new(backend: Backend) -> Self {
        let url = common::database_url(backend).await;
        let store = evtstore_sqlx::connect(&url)
            .await
            .expect("cannot open the store");
        store.migrate().await.expect("migration failed");
        let tables = FoldTables::new("fold");
        tables
            .create(&store)
            .await
            .expect("cannot create the fold tables");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("handler-processes")
            .join(common::unique_name("run"));
        std::fs::create_dir_all(&dir).expect("cannot create the output folder");
        Setup {
            backend,
            url,
            store,
            tables,
            name: "fold-projection".to_owned(),
            dir,
        }
    }

    /// A projector process of this test's handler; what it reports goes to a file of the
    /// test's folder.
    fn projector(&self, mode: Mode, extra: &[String]) -> Command {
        let errors = std::fs::File::create(
            self.dir
                .join(format!("{}.err", common::unique_name("projector"))),
        )
        .expect("cannot create a projector's error file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_projector"));
        command
            .arg(&self.url)
            .args(["--name", &self.name, "--tables", "fold"])
            .args([
                "--mode",
                if mode == Mode::Transactional {
                    "tx"
                } else {
                    "plain"
                },
            ])
            .args(["--lease-ms", &LEASE.as_millis().to_string()])
            .args(["--deadline-secs", "300"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::from(errors));
        command
    }

    /// No projector reported a failing event: a transactional projection of a correct model
    /// never fails, unless an event reaches it twice or out of order.
    fn check_no_failed_events(&self) {
        let mut failures = Vec::new();
        for entry in std::fs::read_dir(&self.dir).expect("cannot list the output folder") {
            let path = entry.expect("cannot list the output folder").path();
            if path.extension().is_some_and(|extension| extension == "err") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                failures.extend(
                    text.lines()
                        .filter(|line| line.contains("failed on"))
                        .take(3)
                        .map(str::to_owned),
                );
            }
        }
        assert!(
            failures.is_empty(),
            "{:?}: projectors reported failing events:\n{}",
            self.backend,
            failures.join("\n")
        );
    }

    /// Waits until the bookmark `name` is stored and past `previous`; returns it.
    async fn wait_for_bookmark_past(&self, name: &str, previous: Option<Cursor>) -> Option<Cursor> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let bookmark = self.store.bookmark(name).await.unwrap();
            if bookmark.is_some() && bookmark > previous {
                return bookmark;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not move past {previous:?} within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until every bookmark of `names` is at `last`.
    async fn wait_for_bookmarks_at(&self, names: &[String], last: Cursor) {
        let deadline = Instant::now() + PATIENCE;
        for name in names {
            loop {
                let bookmark = self.store.bookmark(name).await.unwrap();
                if bookmark == Some(last) {
                    break;
                }
                if Instant::now() > deadline {
                    // Show what the tables hold: the reason is usually there.
                    self.check_fold_until(bookmark).await;
                    panic!(
                        "{name} at {bookmark:?}, not at the last event {last:?}, after {PATIENCE:?}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    /// The owner of every claim: bookmark name to owner (empty when let go).
    async fn owners(&self) -> BTreeMap<String, String> {
        let statement = match self.backend {
            Backend::MySql => "SELECT CAST(bookmark AS CHAR), CAST(owner AS CHAR) FROM bookmarks",
            Backend::Sqlite | Backend::Postgres => "SELECT bookmark, owner FROM bookmarks",
        };
        let rows: Vec<(String, String)> = match &self.store {
            SqlStore::Sqlite(store) => sqlx::query_as(statement).fetch_all(store.pool()).await,
            SqlStore::Postgres(store) => sqlx::query_as(statement).fetch_all(store.pool()).await,
            SqlStore::MySql(store) => sqlx::query_as(statement).fetch_all(store.pool()).await,
            _ => unreachable!("the tests build every backend"),
        }
        .expect("cannot read the claims");
        rows.into_iter().collect()
    }

    /// The name of the projector process that holds the claim `name`.
    async fn holder(&self, name: &str, processes: &Processes) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let owners = self.owners().await;
            let owner = owners.get(name).map_or("", String::as_str);
            if let Some(process) = pid_of_owner(owner).and_then(|pid| processes.name_of(pid)) {
                return process;
            }
            assert!(Instant::now() < deadline, "nobody holds {name}: `{owner}`");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until a live process other than `previous` holds the claim `name` and has moved
    /// its bookmark; returns who and how long that took from now.
    async fn wait_for_new_holder(
        &self,
        name: &str,
        previous: &str,
        processes: &Processes,
    ) -> (String, Duration) {
        let started = Instant::now();
        let before = self.store.bookmark(name).await.unwrap();
        loop {
            let owners = self.owners().await;
            let owner = owners.get(name).map_or("", String::as_str);
            let holder = pid_of_owner(owner).and_then(|pid| processes.name_of(pid));
            if let Some(holder) = holder.filter(|holder| holder != previous) {
                return (holder, started.elapsed());
            }
            assert!(
                started.elapsed() < PATIENCE,
                "nobody took {name} over from {previous} within {PATIENCE:?} (bookmark {before:?})"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The fold tables equal the fold of exactly the events up to `bookmark`.
    async fn check_fold_until(&self, bookmark: Option<Cursor>) {
        let events = events_until(&self.store, bookmark).await.unwrap();
        let (expected_log, expected_state) = expected_fold(&events);
        let (log, state) = self.tables.read(&self.store).await.unwrap();
        let mut problems = Vec::new();
        let mut counts: BTreeMap<&(i64, String, i64), usize> = BTreeMap::new();
        for row in &log {
            *counts.entry(row).or_default() += 1;
        }
        let expected: BTreeSet<&(i64, String, i64)> = expected_log.iter().collect();
        for (row, count) in &counts {
            if *count > 1 {
                problems.push(format!("applied {count} times: {row:?}"));
            }
            if !expected.contains(row) {
                problems.push(format!("applied but not before the bookmark: {row:?}"));
            }
        }
        for row in &expected_log {
            if !counts.contains_key(row) {
                problems.push(format!("lost: {row:?}"));
            }
        }
        if state != expected_state {
            problems.push(format!(
                "the fold differs: {} aggregates expected, {} held",
                expected_state.len(),
                state.len()
            ));
        }
        problems.truncate(20);
        assert!(
            problems.is_empty(),
            "{:?}: the read model is not the fold of the {} events up to bookmark {bookmark:?}:\n{}",
            self.backend,
            events.len(),
            problems.join("\n")
        );
    }
}

/// The process id in a claim owner name (`pid<pid>-<random>`).
fn pid_of_owner(owner: &str) -> Option<u32> {
    owner.strip_prefix("pid")?.split('-').next()?.parse().ok()
}

/// The writers of a test: tasks appending until told to stop.
struct Writers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<usize>>,
}

impl Writers {
    /// Starts [`WRITER_TASKS`] tasks, each on [`AGGREGATES`] aggregates of its own: the first
    /// command on an aggregate creates it (one event), the next ones toggle it (two events).
    /// They append a steady stream rather than one burst, so that kills land while events are
    /// still coming.
    fn start(runtime: &tokio::runtime::Runtime, store: &SqlStore) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let domain = Domain::new(store.clone());
        let tasks = (0..WRITER_TASKS)
            .map(|task| {
                let (domain, stop) = (domain.clone(), Arc::clone(&stop));
                runtime.spawn(async move {
                    let users = domain.commands(UserCommands::default());
                    let mut events = 0;
                    let mut command = 0;
                    while command < AGGREGATES || !stop.load(Ordering::SeqCst) {
                        let id = format!("w{task}-u{}", command % AGGREGATES);
                        if command < AGGREGATES {
                            users.execute(&id, &create_user(&id)).await.unwrap();
                            events += 1;
                        } else {
                            users.execute(&id, &UserCommand::Toggle).await.unwrap();
                            events += 2;
                        }
                        command += 1;
                        tokio::time::sleep(WRITE_PAUSE).await;
                    }
                    events
                })
            })
            .collect();
        Writers { stop, tasks }
    }

    /// Stops the writers; returns how many events they appended.
    fn finish(self, runtime: &tokio::runtime::Runtime) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.tasks
            .into_iter()
            .map(|task| runtime.block_on(task).unwrap())
            .sum()
    }
}

/// Checks the plain handlers' deliveries (each file: `<pid> <position> <id> <version>
/// <start_ns> <end_ns>` per event): every event at least once, never two processes at a
/// time, in order.
fn check_plain_deliveries(all: &[evtstore::RecordedEvent], files: &[PathBuf]) {
    let mut deliveries: Vec<(u128, u128, u32, i64)> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(
                fields.len(),
                6,
                "malformed line `{line}` in {}",
                file.display()
            );
            deliveries.push((
                fields[4].parse().unwrap(),
                fields[5].parse().unwrap(),
                fields[0].parse().unwrap(),
                fields[1].parse().unwrap(),
            ));
        }
    }
    deliveries.sort();
    let mut problems = Vec::new();
    let positions: BTreeSet<i64> = all.iter().map(|event| event.cursor.position).collect();
    let handled: BTreeSet<i64> = deliveries.iter().map(|delivery| delivery.3).collect();
    for missing in positions.difference(&handled).take(10) {
        problems.push(format!("never handled: position {missing}"));
    }
    // One at a time: each delivery starts after the one before it ended, unless both are of
    // the same process (whose own order is the handler's).
    for pair in deliveries.windows(2) {
        let ((_, end, pid, position), (start, _, next_pid, next_position)) = (pair[0], pair[1]);
        if pid != next_pid && start < end {
            problems.push(format!(
                "two processes at once: {pid} on position {position} and {next_pid} on {next_position}"
            ));
        }
    }
    // In order (the store's order: cursor order, which on PostgreSQL is commit order, not
    // position order): a runner goes forward; a new runner resumes at or before the first
    // event not yet handled.
    let order: BTreeMap<i64, usize> = all
        .iter()
        .enumerate()
        .map(|(index, event)| (event.cursor.position, index))
        .collect();
    let rank = |position: i64| order.get(&position).copied().unwrap_or(usize::MAX);
    let mut done = vec![false; all.len()];
    let mut first_missing = 0;
    for pair in deliveries.windows(2) {
        let ((_, _, pid, position), (_, _, next_pid, next_position)) = (pair[0], pair[1]);
        if let Some(slot) = done.get_mut(rank(position)) {
            *slot = true;
        }
        while done.get(first_missing) == Some(&true) {
            first_missing += 1;
        }
        if pid == next_pid && rank(next_position) <= rank(position) {
            problems.push(format!(
                "{pid} went back from {position} to {next_position}"
            ));
        }
        if pid != next_pid && rank(next_position) > first_missing {
            problems.push(format!(
                "{next_pid} took over at {next_position}, past the event at {first_missing} in \
                 cursor order, never handled yet"
            ));
        }
    }
    problems.truncate(20);
    assert!(
        problems.is_empty(),
        "{} deliveries of {} events:\n{}",
        deliveries.len(),
        positions.len(),
        problems.join("\n")
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot start a runtime")
}

/// A small generator for kill delays; its seed is printed, to repeat a run.
struct Random {
    seed: u64,
    state: u64,
}

impl Random {
    fn seeded() -> Self {
        let seed = std::env::var("EVTSTORE_KILL_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(1, |elapsed| elapsed.subsec_nanos().into())
            });
        Random {
            seed,
            state: seed | 1,
        }
    }

    /// A number in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        // xorshift64
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % bound.max(1)
    }
}
