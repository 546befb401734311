//! Gap safety across processes: several writer processes append while several reader and
//! handler processes follow the stream with small pages and tight polling; afterwards every
//! reader has been handed every event of the database exactly once, in cursor order.
//!
//! A reader that bookmarks the last event it read skips, forever, any event that becomes
//! visible after a later one was read: that is the property under test. `concurrent_writers.rs`
//! checks it with tasks of one process sharing one pool; real deployments have many processes,
//! each with its own pool, connections and timing, and the database server is the only thing
//! that orders them. So here every writer, reader and handler is an OS process (the `stress`
//! binary of this crate, `src/bin/stress.rs`), started with [`std::process::Command`] on a
//! fresh database of each backend: a SQLite file, a PostgreSQL schema, a MariaDB database.
//!
//! The workload: [`WRITERS`] processes of [`TASKS`] tasks each execute single-event commands
//! on aggregates of their own, then all of them hammer [`HOT`] shared aggregates (the
//! commands that still conflict after the domain's retries are counted and reported; the
//! aggregate keeps snapshots, so those writers load from a snapshot while others append, and a
//! command refuses a loaded state that does not match its version);
//! [`RAW_READERS`] processes call `Store::read` in a loop with pages of 7, and
//! [`HANDLERS`] processes run event handlers (bookmarks in the database) with pages of 7 and
//! a 1 ms idle poll. Once the writers have exited the test appends an end event; readers stop
//! when they read it. Then the test reads every event of the database and checks, for each
//! reader: nothing missing, nothing twice, nothing unknown, cursors strictly increasing; for
//! each handler also that its stored bookmark is its last event and it reported no error; and
//! for the database that each aggregate's versions are 1, 2, .. in cursor order and that it
//! holds exactly what the writers say they wrote.
//!
//! The ignored `mysql_legacy_sequence_read_skips_events` runs the same on MariaDB with the
//! store's legacy position sequence, on which readers are known to see position N+1 and never
//! N: it is expected to fail, which shows the test catches that skip.
//!
//! Sizes (the same for the legacy test): `EVTSTORE_STRESS_EVENTS` commands per writer task in
//! the first phase (default [`DEFAULT_EVENTS`]),
//! `EVTSTORE_STRESS_CONTENDED` contended commands per writer task (default a tenth of that),
//! `EVTSTORE_STRESS_WRITERS`, `EVTSTORE_STRESS_TASKS` and `EVTSTORE_STRESS_READERS` (raw
//! readers). The tests of this file run one at a time: each starts a dozen processes, which
//! take the whole of a small machine.
//!
//! Timing is never used to decide the outcome: readers stop at the end event, the test waits
//! for processes to exit, and the only clocks are bounds (a process that has not finished by
//! then fails the test, and every process the test started is killed when it ends).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use evtstore::{Cursor, Store};

use crate::common::Backend;
use crate::common::processes::Processes;

/// Writer processes, unless `EVTSTORE_STRESS_WRITERS` says otherwise.
const WRITERS: usize = 4;
/// Concurrent command tasks in each writer process, unless `EVTSTORE_STRESS_TASKS` says
/// otherwise. Many appenders at once is what makes the legacy store's skip likely: with 8
/// tasks a run shows a few dozen skipped deliveries where 4 tasks show a few, or none.
const TASKS: usize = 8;
/// Aggregates every task of every writer competes for in the second phase.
const HOT: usize = 3;
/// Processes reading with `Store::read` in a tight loop, cursor in memory, unless
/// `EVTSTORE_STRESS_READERS` says otherwise.
const RAW_READERS: usize = 5;
/// Handler processes, by how they run: started in the background, or `run_once` in a loop.
const HANDLERS: [&str; 3] = ["start", "start", "run-once"];
/// Events per page, for readers and handlers alike: small pages mean many reads, each a
/// chance to land in the window where a later event is visible and an earlier one is not.
const PAGE_SIZE: usize = 7;
/// First-phase commands per writer task, unless `EVTSTORE_STRESS_EVENTS` says otherwise.
const DEFAULT_EVENTS: usize = 500;
/// How long the writers may take, at most (this plus [`WRITE_TIMEOUT_PER_COMMAND`] per
/// command); past it the test fails and kills every process. A bound, far above what a run
/// takes (about 2,000 commands a second here, 150 on the legacy store).
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);
const WRITE_TIMEOUT_PER_COMMAND: Duration = Duration::from_millis(15);
/// How long readers may take to reach the end event once it is written.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The tests of this file run one after another: each starts a dozen processes, and running
/// three such tests at once on a small machine would only slow each down.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn sqlite_file_processes() {
    stress(Backend::Sqlite, false);
}

#[test]
fn postgres_processes() {
    stress(Backend::Postgres, false);
}

#[test]
fn mysql_processes() {
    stress(Backend::MySql, false);
}

/// The MariaDB run on the store's legacy position sequence (append under a one-row sequence
/// lock, plain consistent read by position), on which readers occasionally see position N+1
/// and never N. It fails, which shows the stress test catches the skip. Ignored because it
/// is expected to fail; run it with `--ignored` to see it. How often the skip shows depends on
/// the machine: on a quiet 2-vCPU machine the default size once passed, while
/// `EVTSTORE_STRESS_READERS=10 EVTSTORE_STRESS_TASKS=16` caught 16 skipped deliveries in one
/// run of about 8 minutes.
#[test]
#[ignore = "demonstrates the bug the test catches; expected to fail"]
fn mysql_legacy_sequence_read_skips_events() {
    stress(Backend::MySql, true);
}

/// The checker itself, on made-up deliveries: each kind of wrong delivery is reported, with
/// the event it concerns.
#[test]
fn checker_reports_missing_duplicate_and_out_of_order_events() {
    let all: Vec<Stored> = (1..=5)
        .map(|position| Stored {
            cursor: Cursor::at(position),
            aggregate_id: if position == 5 { "end" } else { "a" }.to_owned(),
            version: position as u64,
        })
        .collect();
    let seen = |positions: &[i64]| Seen {
        summary: String::new(),
        fields: key_values("role=reader ended=true"),
        cursors: positions.iter().copied().map(Cursor::at).collect(),
    };
    assert_eq!(check_seen("r", &seen(&[1, 2, 3, 4, 5]), &all), Ok(()));
    let missing = check_seen("r", &seen(&[1, 2, 4, 5]), &all).unwrap_err();
    assert!(
        missing.contains("missed 1 of 5 events; first missed 0:3 (a v3): it read 0:2 (a v2)"),
        "{missing}"
    );
    let twice = check_seen("r", &seen(&[1, 2, 2, 3, 4, 5]), &all).unwrap_err();
    assert!(twice.contains("an event twice: 0:2"), "{twice}");
    let backwards = check_seen("r", &seen(&[1, 3, 2, 4, 5]), &all).unwrap_err();
    assert!(
        backwards.contains("out of order: 0:2 (a v2) after 0:3"),
        "{backwards}"
    );
    let unknown = check_seen("r", &seen(&[1, 2, 3, 4, 5, 9]), &all).unwrap_err();
    assert!(unknown.contains("0:9 (not in the database)"), "{unknown}");
    let mut unfinished = seen(&[1, 2, 3, 4]);
    unfinished.fields = key_values("role=reader ended=false");
    assert!(
        check_seen("r", &unfinished, &all)
            .unwrap_err()
            .contains("never read the end event")
    );
}

/// A size from the environment, or `default`.
fn size_from_env(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}=`{value}` is not a number")),
        Err(_) => default,
    }
}

/// The whole run on one backend: fresh database, processes, checks.
fn stress(backend: Backend, legacy: bool) {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let events = size_from_env("EVTSTORE_STRESS_EVENTS", DEFAULT_EVENTS);
    let contended = size_from_env("EVTSTORE_STRESS_CONTENDED", events.div_ceil(10));
    let writers = size_from_env("EVTSTORE_STRESS_WRITERS", WRITERS);
    let tasks = size_from_env("EVTSTORE_STRESS_TASKS", TASKS);
    let raw_readers = size_from_env("EVTSTORE_STRESS_READERS", RAW_READERS);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot build a runtime");
    let url = runtime.block_on(common::database_url(backend));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("evtstore-stress")
        .join(common::unique_name("run"));
    std::fs::create_dir_all(&dir).expect("cannot create the output folder");
    let started = Instant::now();
    let label = format!("{backend:?}{}", if legacy { " (legacy)" } else { "" });
    eprintln!(
        "{label}: {writers} writers x {tasks} tasks x {events} events (+{contended} contended \
         each), {raw_readers} readers, {} handlers, pages of {PAGE_SIZE}; database {url}",
        HANDLERS.len()
    );
    let commands = writers * tasks * (events + contended);
    let write_timeout = WRITE_TIMEOUT + WRITE_TIMEOUT_PER_COMMAND * commands as u32;
    // Every process gives up a little after the test would have: none outlives it by long even
    // if the test itself is killed before its guard can stop them.
    let child_deadline = (write_timeout + DRAIN_TIMEOUT * 2).as_secs().to_string();
    let stress_command = |role: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stress"));
        command
            .args([role, url.as_str(), "--deadline-secs", &child_deadline])
            .stdin(Stdio::null());
        if legacy {
            command.arg("--legacy");
        }
        command
    };

    let mut processes = Processes::default();
    processes.run_to_end(
        "migrate",
        stress_command("migrate"),
        Duration::from_secs(60),
    );

    let page = PAGE_SIZE.to_string();
    let mut followers = Vec::new();
    for index in 0..raw_readers {
        let name = format!("reader-{index}");
        let out = dir.join(format!("{name}.txt"));
        let mut command = stress_command("reader");
        command.args(["--page", &page]).arg("--out").arg(&out);
        processes.spawn(&name, command);
        followers.push((name, out));
    }
    for (index, mode) in HANDLERS.into_iter().enumerate() {
        let name = format!("handler-{index}");
        let out = dir.join(format!("{name}.txt"));
        let mut command = stress_command("handler");
        command
            .args(["--name", &name, "--mode", mode, "--page", &page])
            .arg("--out")
            .arg(&out);
        processes.spawn(&name, command);
        followers.push((name, out));
    }
    let writers: Vec<String> = (0..writers)
        .map(|index| {
            let name = format!("writer-{index}");
            let mut command = stress_command("writer");
            command
                .args(["--index", &index.to_string()])
                .args(["--tasks", &tasks.to_string()])
                .args(["--events", &events.to_string()])
                .args(["--contended", &contended.to_string()])
                .args(["--hot", &HOT.to_string()])
                .stdout(Stdio::piped());
            processes.spawn(&name, command);
            name
        })
        .collect();

    // The writers print one short line each, far below a pipe's buffer: waiting for them to
    // exit before reading it cannot block them.
    let write_deadline = Instant::now() + write_timeout;
    let summaries: Vec<WriterSummary> = writers
        .iter()
        .map(|name| {
            let stdout = processes.wait_success(name, write_deadline);
            WriterSummary::parse(name, &stdout)
        })
        .collect();
    let written_at = started.elapsed();
    processes.run_to_end("finish", stress_command("finish"), Duration::from_secs(60));
    let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
    for (name, _) in &followers {
        processes.wait_success(name, drain_deadline);
    }
    let drained_at = started.elapsed();

    let all = runtime.block_on(every_event(&url));
    let mut failures = check_database(&all, &summaries);
    let mut report = Vec::new();
    for (name, out) in &followers {
        let seen = Seen::read(name, out);
        report.push(format!(
            "{name}: {} events; {}",
            seen.cursors.len(),
            seen.summary
        ));
        if let Err(failure) = check_seen(name, &seen, &all) {
            failures.push(failure);
        }
    }
    let attempted: u64 = summaries.iter().map(|s| s.contended_attempted).sum();
    let failed: u64 = summaries.iter().map(|s| s.contended_failed).sum();
    eprintln!(
        "{label}: {} events written in {:.1} s, all readers done at {:.1} s; contended \
         commands failing after retries: {failed} of {attempted} ({:.1} %)\n  {}\n  {}",
        all.len(),
        written_at.as_secs_f64(),
        drained_at.as_secs_f64(),
        100.0 * failed as f64 / attempted.max(1) as f64,
        summaries
            .iter()
            .map(|summary| summary.line.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        report.join("\n  "),
    );
    assert!(
        failures.is_empty(),
        "{label}: {} problem(s) (outputs in {}):\n{}",
        failures.len(),
        dir.display(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One event as the database holds it.
#[derive(Clone, Debug)]
struct Stored {
    cursor: Cursor,
    aggregate_id: String,
    version: u64,
}

/// Every event of the stream, in cursor order, read once every process is done.
async fn every_event(url: &str) -> Vec<Stored> {
    let store = evtstore_sqlx::connect(url)
        .await
        .expect("cannot open the store");
    let mut all = Vec::new();
    let mut after = Cursor::START;
    loop {
        let page = store
            .read(&["ticks"], after, 10_000)
            .await
            .expect("cannot read the events");
        if page.is_empty() {
            return all;
        }
        for row in page {
            let event = row.unwrap_or_else(|unreadable| panic!("unreadable row: {unreadable}"));
            after = event.cursor;
            all.push(Stored {
                cursor: event.cursor,
                aggregate_id: event.aggregate_id,
                version: event.version,
            });
        }
    }
}

/// The database's own consistency: the order, each aggregate's versions, and the counts the
/// writers reported.
fn check_database(all: &[Stored], writers: &[WriterSummary]) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(pair) = all.windows(2).find(|pair| pair[0].cursor >= pair[1].cursor) {
        failures.push(format!(
            "database: a full read is not in cursor order: {:?} then {:?}",
            pair[0], pair[1]
        ));
    }
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for event in all {
        let last = versions.entry(&event.aggregate_id).or_default();
        if event.version != *last + 1 {
            failures.push(format!(
                "database: {} has version {} after {last} (at {:?})",
                event.aggregate_id, event.version, event.cursor
            ));
            break;
        }
        *last = event.version;
    }
    let written: u64 = writers.iter().map(|writer| writer.events).sum();
    if all.len() as u64 != written + 1 {
        failures.push(format!(
            "database: holds {} events, the writers report {written} plus the end event",
            all.len()
        ));
    }
    if all.last().is_none_or(|last| last.aggregate_id != "end") {
        failures.push("database: the end event is not the last one".to_owned());
    }
    failures
}

/// What one reader or handler wrote: its summary line and the cursors it was handed.
struct Seen {
    summary: String,
    fields: BTreeMap<String, String>,
    cursors: Vec<Cursor>,
}

impl Seen {
    fn read(name: &str, path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("{name} wrote no {}: {error}", path.display()));
        let mut lines = text.lines();
        let summary = lines
            .next()
            .and_then(|line| line.strip_prefix("# "))
            .unwrap_or_else(|| panic!("{name}: {} has no summary line", path.display()))
            .to_owned();
        let fields = key_values(&summary);
        let cursors = lines
            .map(|line| {
                let parsed = line.split_once(' ').and_then(|(commit, position)| {
                    Some(Cursor {
                        commit: commit.parse().ok()?,
                        position: position.parse().ok()?,
                    })
                });
                parsed.unwrap_or_else(|| panic!("{name}: bad line `{line}`"))
            })
            .collect();
        Seen {
            summary,
            fields,
            cursors,
        }
    }

    fn field(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }
}

fn key_values(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Whether a reader was handed every event of `all` once, in order; the message says what
/// went wrong first, with the events around it.
fn check_seen(name: &str, seen: &Seen, all: &[Stored]) -> Result<(), String> {
    let index: HashMap<Cursor, usize> = all
        .iter()
        .enumerate()
        .map(|(at, event)| (event.cursor, at))
        .collect();
    let describe = |cursor: Cursor| match index.get(&cursor) {
        Some(&at) => format!(
            "{}:{} ({} v{})",
            cursor.commit, cursor.position, all[at].aggregate_id, all[at].version
        ),
        None => format!(
            "{}:{} (not in the database)",
            cursor.commit, cursor.position
        ),
    };
    let cursors = &seen.cursors;
    let mut problems = Vec::new();
    if seen.field("ended") != "true" {
        problems.push("it never read the end event".to_owned());
    }
    if let Some(unknown) = cursors.iter().find(|cursor| !index.contains_key(cursor)) {
        problems.push(format!("it was handed {}", describe(*unknown)));
    }
    if let Some(at) = (1..cursors.len()).find(|&at| cursors[at - 1] >= cursors[at]) {
        let kind = if cursors[at - 1] == cursors[at] || cursors[..at].contains(&cursors[at]) {
            "twice"
        } else {
            "out of order"
        };
        problems.push(format!(
            "it was handed an event {kind}: {} after {} (delivery {at})",
            describe(cursors[at]),
            describe(cursors[at - 1])
        ));
    }
    let mut delivered: HashMap<Cursor, usize> = HashMap::new();
    for cursor in cursors {
        *delivered.entry(*cursor).or_default() += 1;
    }
    let missing: Vec<usize> = (0..all.len())
        .filter(|at| !delivered.contains_key(&all[*at].cursor))
        .collect();
    if let Some(&first) = missing.first() {
        let before = (0..first)
            .rev()
            .find(|at| delivered.contains_key(&all[*at].cursor));
        let after = (first + 1..all.len()).find(|at| delivered.contains_key(&all[*at].cursor));
        problems.push(format!(
            "it missed {} of {} events; first missed {}: it read {} just before it and {} \
             next",
            missing.len(),
            all.len(),
            describe(all[first].cursor),
            before.map_or("nothing".to_owned(), |at| describe(all[at].cursor)),
            after.map_or("nothing".to_owned(), |at| describe(all[at].cursor)),
        ));
    }
    if seen.field("role") == "handler" {
        if seen.field("errors") != "0" {
            problems.push(format!(
                "it reported {} error(s), the first: {}",
                seen.field("errors"),
                seen.field("first_error")
            ));
        }
        let bookmark = format!(
            "{} {}",
            seen.field("bookmark_commit"),
            seen.field("bookmark_position")
        );
        let last = cursors
            .last()
            .map_or("0 0".to_owned(), |c| format!("{} {}", c.commit, c.position));
        if bookmark != last {
            problems.push(format!(
                "its stored bookmark is {bookmark}, its last event {last}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{name}: {}", problems.join("; ")))
    }
}

/// A writer's summary line.
struct WriterSummary {
    line: String,
    events: u64,
    contended_attempted: u64,
    contended_failed: u64,
}

impl WriterSummary {
    fn parse(name: &str, stdout: &str) -> Self {
        let line = stdout
            .lines()
            .find(|line| line.starts_with("writer="))
            .unwrap_or_else(|| panic!("{name} printed no summary: `{stdout}`"))
            .to_owned();
        let fields = key_values(&line);
        let number = |key: &str| -> u64 {
            fields
                .get(key)
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("{name}: no {key} in `{line}`"))
        };
        WriterSummary {
            events: number("events"),
            contended_attempted: number("contended_attempted"),
            contended_failed: number("contended_failed"),
            line: line.clone(),
        }
    }
}
