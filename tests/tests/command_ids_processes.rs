//! Idempotent commands across processes: several OS processes (the `stress` binary's
//! `retrier` role) execute the same command ids on the same aggregates at about the same time,
//! as clients retrying one request against several replicas would. Afterwards each aggregate
//! holds exactly one event per command id, in id order, and every execution of an id returned
//! the aggregate as the first execution left it (the version of that id's event).
//!
//! The ignored `executions_without_ids_append_again` runs the same without command ids: it is
//! expected to fail (every execution appends), which shows the checks catch a double append.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use evtstore::{Metadata, Store};
use evtstore_sqlx::SqlStore;

use crate::common::Backend;
use crate::common::processes::Processes;

/// Processes executing the same ids.
const RETRIERS: usize = 4;
/// Aggregates, one task each in every process.
const AGGREGATES: u32 = 4;
/// Command ids per aggregate.
const IDS: u32 = 40;
/// How long after spawning the retriers they all start: time to start and connect.
const START_DELAY: Duration = Duration::from_millis(1500);
/// A bound far above what a run takes (a few seconds).
const TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn sqlite_file_command_ids_append_once() {
    run(Backend::Sqlite, true);
}

#[test]
fn postgres_command_ids_append_once() {
    run(Backend::Postgres, true);
}

#[test]
fn mysql_command_ids_append_once() {
    run(Backend::MySql, true);
}

/// The same on PostgreSQL without command ids: every execution appends, and the checks say so.
#[test]
#[ignore = "demonstrates the failure the test catches; expected to fail"]
fn executions_without_ids_append_again() {
    run(Backend::Postgres, false);
}

fn run(backend: Backend, with_ids: bool) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot build a runtime");
    let url = runtime.block_on(common::database_url(backend));
    let stress = |role: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stress"));
        command
            .args([role, url.as_str(), "--deadline-secs", "170"])
            .stdin(Stdio::null());
        command
    };
    let mut processes = Processes::default();
    processes.run_to_end("migrate", stress("migrate"), Duration::from_secs(60));
    // A common start, after every process had time to start and connect.
    let start_at = (std::time::SystemTime::now() + START_DELAY)
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
        .to_string();
    let names: Vec<String> = (0..RETRIERS)
        .map(|index| {
            let name = format!("retrier-{index}");
            let mut command = stress("retrier");
            command
                .args(["--index", &index.to_string()])
                .args(["--aggregates", &AGGREGATES.to_string()])
                .args(["--ids", &IDS.to_string()])
                .args(["--start-at", &start_at])
                .stdout(Stdio::piped());
            if !with_ids {
                command.arg("--no-ids");
            }
            processes.spawn(&name, command);
            name
        })
        .collect();
    // Each retrier prints AGGREGATES * IDS short lines (a few kilobytes), within a pipe's
    // buffer: waiting for the exit before reading cannot block it.
    let deadline = Instant::now() + TIMEOUT;
    let returned: Vec<(String, String)> = names
        .iter()
        .map(|name| (name.clone(), processes.wait_success(name, deadline)))
        .collect();

    let store: SqlStore = runtime
        .block_on(evtstore_sqlx::connect(&url))
        .expect("connect");
    let mut failures = Vec::new();
    for aggregate in 0..AGGREGATES {
        let id = format!("idem-{aggregate}");
        let events = runtime.block_on(store.load("ticks", &id, 0)).expect("load");
        let ids: Vec<Option<String>> = events
            .iter()
            .map(|event| {
                let metadata: Metadata = event
                    .metadata
                    .as_deref()
                    .map(|json| serde_json::from_str(json).expect("metadata"))
                    .unwrap_or_default();
                metadata.command_id
            })
            .collect();
        let expected: Vec<Option<String>> = (0..IDS).map(|n| Some(format!("cmd-{n}"))).collect();
        if with_ids && ids != expected {
            failures.push(format!(
                "{id}: stored command ids {ids:?}, expected cmd-0..cmd-{}",
                IDS - 1
            ));
        }
        if events.len() != IDS as usize {
            failures.push(format!(
                "{id}: {} events for {IDS} commands executed {RETRIERS} times each",
                events.len()
            ));
        }
    }
    // Every execution of an id returned the version of that id's event: the first execution's
    // result, whichever process ran it.
    let mut versions: BTreeMap<(String, String), Vec<(String, u64)>> = BTreeMap::new();
    let mut windows = Vec::new();
    for (name, stdout) in &returned {
        for line in stdout.lines() {
            if let Some(window) = line.strip_prefix("# started ") {
                let (started, finished) = window
                    .split_once(" finished ")
                    .expect("`# started <ms> finished <ms>`");
                windows.push((
                    started.parse::<u64>().expect("ms"),
                    finished.parse::<u64>().expect("ms"),
                ));
                continue;
            }
            let mut parts = line.split(' ');
            let (Some(id), Some(command_id), Some(version)) =
                (parts.next(), parts.next(), parts.next())
            else {
                failures.push(format!("{name}: unreadable line `{line}`"));
                continue;
            };
            let version: u64 = version.parse().expect("a version");
            versions
                .entry((id.to_owned(), command_id.to_owned()))
                .or_default()
                .push((name.clone(), version));
        }
    }
    assert_eq!(
        versions.len(),
        (AGGREGATES * IDS) as usize,
        "{backend:?}: not every execution was reported"
    );
    // The executions overlapped: every process was running while every other was.
    let last_start = windows.iter().map(|(started, _)| *started).max();
    let first_end = windows.iter().map(|(_, finished)| *finished).min();
    assert_eq!(windows.len(), RETRIERS, "{backend:?}: {windows:?}");
    assert!(
        last_start < first_end,
        "{backend:?}: the retriers did not run at the same time: {windows:?}"
    );
    for ((id, command_id), returned) in &versions {
        let n: u64 = command_id
            .trim_start_matches("cmd-")
            .parse()
            .expect("an id number");
        if returned.iter().any(|(_, version)| *version != n + 1) {
            failures.push(format!(
                "{id} {command_id}: executions returned versions {returned:?}, expected {} for all",
                n + 1
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{backend:?}{}: {} problem(s):\n{}",
        if with_ids { "" } else { " without ids" },
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
