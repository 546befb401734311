//! One process of the multi-process gap-safety stress test (`tests/tests/multiprocess.rs`).
//!
//! The test starts many of these against one database, each in a role:
//!
//! ```text
//! stress migrate <url>
//! stress writer  <url> --index <n> [--tasks 4] [--events 500] [--contended 50] [--hot 3]
//! stress reader  <url> --out <file> [--page 7]
//! stress handler <url> --name <name> --out <file> [--mode start|run-once] [--page 7]
//! stress finish  <url>
//! stress retrier <url> --index <n> [--aggregates 4] [--ids 40] [--no-ids] [--start-at <ms>]
//! ```
//!
//! Every role also takes `--deadline-secs <s>` (default 300; a role still running 30 s past it
//! stops with an error) and `--legacy`.
//!
//! - A **writer** runs `--tasks` tasks that each execute `--events` single-event commands on
//!   aggregates of their own (round robin over a few, so the domain's cache spares the loads),
//!   then `--contended` commands each on `--hot` aggregates shared by every task of every
//!   writer, counting the commands that still fail with a version conflict after the domain's
//!   retries. It prints one `key=value` summary line on stdout.
//! - A **reader** calls [`Store::read`] with pages of `--page` events in a tight loop, keeping
//!   its cursor in memory, until it reads the end event.
//! - A **handler** runs an event handler (bookmark `--name`, stored in the database) with
//!   pages of `--page` and a 1 ms idle poll, either started in the background (`start`) or by
//!   `run_once` in a loop (`run-once`), until it handles the end event.
//! - **finish** appends the end event, once every writer has exited. Every other event is
//!   committed before it, so a reader that has read it has read all it ever will: readers stop
//!   there without guessing how long to wait. (The end event cannot itself be skipped: a skip
//!   needs a later event to be read past it.)
//!
//! - A **retrier** executes, on each of `--aggregates` aggregates (`idem-0`, ..), one tick
//!   command per command id `cmd-0` .. `cmd-<ids - 1>` (`Metadata::command_id`), in that
//!   order, one task per aggregate. Every retrier process executes the same ids at about the
//!   same time, as clients retrying one request against several replicas would. It prints one
//!   line per execution, `<aggregate> <command id> <version returned>`, then
//!   `# started <ms> finished <ms>` (Unix milliseconds). It starts at `--start-at` (Unix
//!   milliseconds), connected and ready, so that all retrier processes start together. With
//!   `--no-ids` it executes the same commands without ids (the ignored test's broken variant).
//!
//! Readers and handlers write what they saw to `--out`: a summary line
//! (`# key=value ...`) and then one line `<commit> <position>` per event, in the order they
//! were handed over. Readers and handlers give up at `--deadline-secs` after they started (and
//! say so in their summary), so none outlives a test that was killed.
//!
//! `--legacy` (MySQL/MariaDB only) runs the store with its legacy position sequence, which is
//! known to let readers skip events; the ignored test runs on it to show the stress test
//! catches that.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use evtstore::prelude::*;
use evtstore::{Cursor, DomainOptions};
use evtstore_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use evtstore_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use evtstore_sqlx::{MySqlStore, PgStore, SqlStore, SqliteStore, Tables};
use serde::{Deserialize, Serialize};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The events of the `ticks` stream, with a snapshot stored by every command: the contended
/// aggregates are then loaded from a snapshot (its statement, then the events after it on
/// PostgreSQL and MySQL) while other processes append to them and store newer snapshots.
#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "ticks", state = Ticks, persist = "v1")]
#[serde(tag = "type", rename_all = "camelCase")]
enum TickEvent {
    /// One command of one task of one writer.
    Ticked { writer: u32, task: u32, n: u32 },
    /// The last event of the run, appended once every writer has exited.
    End,
}

/// The aggregate's state: how many ticks it has.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Ticks {
    count: u64,
}

impl TickEventFold for Ticks {
    fn ticked(&mut self, _writer: &u32, _task: &u32, _n: &u32) {
        self.count += 1;
    }
    fn end(&mut self) {}
}

/// The writers' commands: each appends one event.
struct TickCommands;

#[command(TickEvent)]
impl TickCommands {
    /// Appends one tick, after checking that the loaded state folded exactly the events up to
    /// its version (a tick aggregate holds nothing else): a load that skipped events after a
    /// snapshot, or folded some twice, fails the writer.
    async fn tick(
        &self,
        ticks: &Agg<Ticks>,
        writer: u32,
        task: u32,
        n: u32,
    ) -> CommandResult<TickEvent> {
        if ticks.count != ticks.version {
            return Err(CommandError::new(format!(
                "loaded {} ticks at version {}",
                ticks.count, ticks.version
            )));
        }
        Ok(TickEvent::Ticked { writer, task, n }.into())
    }

    /// Appends the end event.
    async fn end(&self, ticks: &Agg<Ticks>) -> CommandResult<TickEvent> {
        if ticks.exists() {
            return Err(CommandError::new("the end event is already written"));
        }
        Ok(TickEvent::End.into())
    }
}

/// The aggregate holding the end event.
const END_ID: &str = "end";
/// Distinct aggregates each writer task cycles through in the first phase.
const AGGREGATES_PER_TASK: u32 = 4;

/// A handler's read model: the cursors it was handed, in order.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Cursor>>,
    ended: AtomicBool,
    ended_signal: tokio::sync::Notify,
}

impl Recorder {
    fn record(&self, meta: &EventMeta) -> HandlerResult {
        self.seen.lock().map_err(|_| "poisoned")?.push(meta.cursor);
        Ok(())
    }
}

impl TickEventHandler for Recorder {
    async fn ticked(
        &self,
        _id: &str,
        _writer: &u32,
        _task: &u32,
        _n: &u32,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.record(meta)
    }

    async fn end(&self, _id: &str, meta: &EventMeta) -> HandlerResult {
        self.record(meta)?;
        self.ended.store(true, Ordering::SeqCst);
        self.ended_signal.notify_waiters();
        Ok(())
    }
}

/// The command line: a role, a URL, then `--key value` options and `--flag`s.
struct Args {
    role: String,
    url: String,
    options: HashMap<String, String>,
}

impl Args {
    fn parse() -> Result<Self, BoxError> {
        let mut args = std::env::args().skip(1);
        let usage = "usage: stress <migrate|writer|reader|handler|finish> <url> [--option value]..";
        let role = args.next().ok_or(usage)?;
        let url = args.next().ok_or(usage)?;
        let mut options = HashMap::new();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let key = arg
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument `{arg}`; {usage}"))?;
            let value = match args.peek() {
                Some(next) if !next.starts_with("--") => args.next().unwrap_or_default(),
                _ => "true".to_owned(),
            };
            options.insert(key.to_owned(), value);
        }
        Ok(Args { role, url, options })
    }

    fn get<T: FromStr>(&self, key: &str, default: T) -> Result<T, BoxError>
    where
        T::Err: std::fmt::Display,
    {
        match self.options.get(key) {
            None => Ok(default),
            Some(value) => value
                .parse()
                .map_err(|error| format!("--{key} `{value}`: {error}").into()),
        }
    }

    fn required(&self, key: &str) -> Result<&str, BoxError> {
        self.options
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("{} needs --{key}", self.role).into())
    }

    fn flag(&self, key: &str) -> bool {
        self.options.contains_key(key)
    }
}

/// Opens the store a URL names, with a pool of at most `connections` on the servers (many
/// processes share one server's connection limit).
async fn open(url: &str, connections: u32, legacy: bool) -> Result<SqlStore, BoxError> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    let store = match scheme {
        "sqlite" => {
            if legacy {
                return Err("--legacy is only for MySQL/MariaDB".into());
            }
            SqlStore::Sqlite(SqliteStore::connect(url).await?)
        }
        "postgres" | "postgresql" => {
            if legacy {
                return Err("--legacy is only for MySQL/MariaDB".into());
            }
            let pool = PgPoolOptions::new()
                .max_connections(connections)
                .connect_with(PgConnectOptions::from_str(url)?)
                .await?;
            SqlStore::Postgres(PgStore::from_pool(pool, Tables::default()))
        }
        "mysql" | "mariadb" => {
            let url = url.replacen("mariadb:", "mysql:", 1);
            let pool = MySqlPoolOptions::new()
                .max_connections(connections)
                .connect_with(MySqlConnectOptions::from_str(&url)?)
                .await?;
            let store = MySqlStore::from_pool(pool, Tables::default());
            SqlStore::MySql(if legacy {
                store.legacy_sequence_positions()
            } else {
                store
            })
        }
        _ => return Err(format!("unsupported URL `{url}`").into()),
    };
    Ok(store)
}

/// Executes every command id on every aggregate, printing what each execution returned.
async fn retrier(args: &Args, store: SqlStore) -> Result<(), BoxError> {
    let index: u32 = args.get("index", 0)?;
    let aggregates: u32 = args.get("aggregates", 4)?;
    let ids: u32 = args.get("ids", 40)?;
    let with_ids = !args.flag("no-ids");
    let start_at: u64 = args.get("start-at", 0)?;
    let commands = Domain::new(store).commands(TickCommands);
    // Connected before the common start: the first command does not wait for a connection.
    commands.load("idem-0").await?;
    let now = unix_millis();
    if start_at > now {
        tokio::time::sleep(Duration::from_millis(start_at - now)).await;
    }
    let started = unix_millis();
    let spawned: Vec<_> = (0..aggregates)
        .map(|aggregate| {
            let commands = commands.clone();
            tokio::spawn(async move {
                let id = format!("idem-{aggregate}");
                let mut lines = String::new();
                for n in 0..ids {
                    let command_id = format!("cmd-{n}");
                    let metadata = Metadata {
                        command_id: with_ids.then(|| command_id.clone()),
                        ..Metadata::default()
                    };
                    let command = TickCommand::Tick {
                        writer: index,
                        task: aggregate,
                        n,
                    };
                    let agg = commands
                        .execute_with(&id, &command, &metadata)
                        .await
                        .map_err(|error| format!("{id} {command_id}: {error}"))?;
                    writeln!(lines, "{id} {command_id} {}", agg.version)
                        .map_err(|error| error.to_string())?;
                }
                Ok::<String, String>(lines)
            })
        })
        .collect();
    let mut lines = String::new();
    for task in spawned {
        lines.push_str(&task.await??);
    }
    let finished = unix_millis();
    println!("{lines}# started {started} finished {finished}");
    Ok(())
}

fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// What one writer process did.
#[derive(Default)]
struct WriterSummary {
    events: u64,
    contended_attempted: u64,
    contended_failed: u64,
}

async fn writer(args: &Args, store: SqlStore) -> Result<(), BoxError> {
    let index: u32 = args.get("index", u32::MAX)?;
    if index == u32::MAX {
        return Err("writer needs --index".into());
    }
    let tasks: u32 = args.get("tasks", 4)?;
    let events: u32 = args.get("events", 500)?;
    let contended: u32 = args.get("contended", 50)?;
    let hot: u32 = args.get("hot", 3)?.max(1);
    // The retry policy, for measuring the contended phase with other settings than the
    // defaults (`--retries 3 --backoff-ms 0` is the first release's).
    let defaults = DomainOptions::default();
    let options = DomainOptions {
        retries: args.get("retries", defaults.retries)?,
        retry_backoff: Duration::from_millis(args.get(
            "backoff-ms",
            u64::try_from(defaults.retry_backoff.as_millis())?,
        )?),
        ..defaults
    };
    let started = Instant::now();
    let commands = Domain::with_options(store, options).commands(TickCommands);

    // Phase 1: single-event commands on aggregates no other task writes.
    let spawned: Vec<_> = (0..tasks)
        .map(|task| {
            let commands = commands.clone();
            tokio::spawn(async move {
                for n in 0..events {
                    let id = format!("w{index}-t{task}-a{}", n % AGGREGATES_PER_TASK);
                    let command = TickCommand::Tick {
                        writer: index,
                        task,
                        n,
                    };
                    commands
                        .execute(&id, &command)
                        .await
                        .map_err(|error| format!("writer {index} task {task}: {error}"))?;
                }
                Ok::<u64, String>(u64::from(events))
            })
        })
        .collect();
    let mut summary = WriterSummary::default();
    for task in spawned {
        summary.events += task.await??;
    }
    let phase1 = started.elapsed();

    // Phase 2: every task of every writer on the same few aggregates.
    let spawned: Vec<_> = (0..tasks)
        .map(|task| {
            let commands = commands.clone();
            tokio::spawn(async move {
                let (mut written, mut failed) = (0_u64, 0_u64);
                for n in 0..contended {
                    let id = format!("hot-{}", (n + task + index) % hot);
                    let command = TickCommand::Tick {
                        writer: index,
                        task,
                        n: events + n,
                    };
                    match commands.execute(&id, &command).await {
                        Ok(_) => written += 1,
                        Err(error) if error.is_version_conflict() => failed += 1,
                        Err(error) => {
                            return Err(format!("writer {index} task {task} on {id}: {error}"));
                        }
                    }
                }
                Ok((written, failed))
            })
        })
        .collect();
    for task in spawned {
        let (written, failed) = task.await??;
        summary.events += written;
        summary.contended_failed += failed;
        summary.contended_attempted += written + failed;
    }
    println!(
        "writer={index} events={} contended_attempted={} contended_failed={} \
         phase1_ms={} total_ms={}",
        summary.events,
        summary.contended_attempted,
        summary.contended_failed,
        phase1.as_millis(),
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Writes what a reader or handler saw: a summary line, then one cursor per line.
fn write_seen(path: &str, summary: &str, seen: &[Cursor]) -> Result<(), BoxError> {
    let mut text = String::with_capacity(seen.len() * 12 + summary.len() + 4);
    writeln!(text, "# {summary}")?;
    for cursor in seen {
        writeln!(text, "{} {}", cursor.commit, cursor.position)?;
    }
    // Written whole and renamed, so the test never reads half a file.
    let partial = format!("{path}.partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

async fn reader(args: &Args, store: SqlStore, deadline: Instant) -> Result<(), BoxError> {
    let page_size: usize = args.get("page", 7)?;
    let out = args.required("out")?;
    let started = Instant::now();
    let (mut seen, mut cursor, mut reads, mut empty_reads) = (Vec::new(), Cursor::START, 0, 0);
    let mut ended = false;
    while !ended && Instant::now() < deadline {
        let page = store.read(&[TickEvent::STREAM], cursor, page_size).await?;
        reads += 1;
        if page.is_empty() {
            empty_reads += 1;
            // Lets the runtime's other work (pool upkeep) run; no pause: the point is to
            // read as often as possible while the writers commit.
            tokio::task::yield_now().await;
        }
        for row in page {
            let event = row.map_err(|unreadable| format!("unreadable row: {unreadable}"))?;
            cursor = event.cursor;
            seen.push(event.cursor);
            ended |= event.aggregate_id == END_ID;
        }
    }
    let summary = format!(
        "role=reader ended={ended} reads={reads} empty_reads={empty_reads} elapsed_ms={}",
        started.elapsed().as_millis()
    );
    write_seen(out, &summary, &seen)
}

async fn handler(args: &Args, store: SqlStore, deadline: Instant) -> Result<(), BoxError> {
    let page_size: usize = args.get("page", 7)?;
    let out = args.required("out")?;
    let name = args.required("name")?;
    let mode: String = args.get("mode", "start".to_owned())?;
    let started = Instant::now();
    let errors = std::sync::Arc::new(AtomicUsize::new(0));
    let first_error = std::sync::Arc::new(Mutex::new(None::<String>));
    let handler = {
        let (errors, first_error) = (errors.clone(), first_error.clone());
        Domain::new(store.clone())
            .handler(name, Recorder::default())
            .stream::<TickEvent>()
            .page_size(page_size)
            .idle_poll(Duration::from_millis(1))
            .error_backoff(Duration::from_millis(50))
            .on_error(move |error| {
                errors.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut first) = first_error.lock() {
                    first.get_or_insert_with(|| error.to_string());
                }
            })
            .build()
    };
    let model = handler.model();
    let mut runs = 0_u64;
    match mode.as_str() {
        "start" => {
            let running = handler.start();
            let remaining = deadline.saturating_duration_since(Instant::now());
            let ended = model.ended_signal.notified();
            tokio::pin!(ended);
            // Registers interest before checking the flag, so a notification in between is
            // not lost.
            ended.as_mut().enable();
            if !model.ended.load(Ordering::SeqCst) {
                let _ = tokio::time::timeout(remaining, ended).await;
            }
            running.stop().await;
        }
        "run-once" => {
            while !model.ended.load(Ordering::SeqCst) && Instant::now() < deadline {
                handler.run_once().await?;
                runs += 1;
            }
        }
        other => return Err(format!("unknown handler mode `{other}`").into()),
    }
    let seen = model.seen.lock().map_err(|_| "poisoned")?.clone();
    let bookmark = store.bookmark(name).await?.unwrap_or(Cursor::START);
    let first_error = first_error
        .lock()
        .map_err(|_| "poisoned")?
        .clone()
        .unwrap_or_default()
        .replace(char::is_whitespace, "_");
    let summary = format!(
        "role=handler mode={mode} ended={} runs={runs} errors={} bookmark_commit={} \
         bookmark_position={} elapsed_ms={} first_error={first_error}",
        model.ended.load(Ordering::SeqCst),
        errors.load(Ordering::SeqCst),
        bookmark.commit,
        bookmark.position,
        started.elapsed().as_millis(),
    );
    write_seen(out, &summary, &seen)
}

/// How long after the deadline a role that is still running is stopped with an error.
/// Readers and handlers stop at the deadline themselves, and write what they saw.
const DEADLINE_GRACE: Duration = Duration::from_secs(30);

async fn run(args: Args) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(args.get("deadline-secs", 300)?);
    let hard_stop = tokio::time::Instant::from_std(deadline + DEADLINE_GRACE);
    tokio::time::timeout_at(hard_stop, run_role(&args, deadline))
        .await
        .map_err(|_| "still running past --deadline-secs")?
}

async fn run_role(args: &Args, deadline: Instant) -> Result<(), BoxError> {
    let legacy = args.flag("legacy");
    match args.role.as_str() {
        "migrate" => {
            let store = open(&args.url, 1, legacy).await?;
            store.migrate().await?;
        }
        "writer" => {
            let tasks: u32 = args.get("tasks", 4)?;
            let store = open(&args.url, tasks + 1, legacy).await?;
            writer(args, store).await?;
        }
        "reader" => reader(args, open(&args.url, 2, legacy).await?, deadline).await?,
        "handler" => handler(args, open(&args.url, 3, legacy).await?, deadline).await?,
        "retrier" => retrier(args, open(&args.url, 5, legacy).await?).await?,
        "finish" => {
            let commands = Domain::new(open(&args.url, 1, legacy).await?).commands(TickCommands);
            commands.execute(END_ID, &TickCommand::End).await?;
        }
        other => return Err(format!("unknown role `{other}`").into()),
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let outcome = Args::parse().and_then(|args| {
        let role = args.role.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        runtime
            .block_on(run(args))
            .map_err(|error| format!("stress {role}: {error}").into())
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}
