//! One handler process of the handler process tests (`tests/tests/handler_processes.rs`).
//!
//! ```text
//! projector <url> --name <handler> --mode tx|plain [--segments 1] [--max-claimed 1]
//!           [--lease-ms 10000] [--page 20] [--tables <prefix>] [--out <file>]
//!           [--no-claim] [--deadline-secs 300]
//! ```
//!
//! It starts the handler `--name` over the users stream and runs until it is killed (the
//! tests kill it with SIGKILL) or the deadline passes.
//!
//! - `--mode tx`: a transactional projection into the fold tables `--tables`
//!   ([`evtstore_tests::fold_table`]), exactly once.
//! - `--mode plain`: a plain handler that appends one line per event handled to `--out`:
//!   `<pid> <position> <aggregate_id> <version> <start_ns> <end_ns>`, the times on the
//!   system clock, which all processes of one machine share. A line is written with one
//!   `write` after the event was handled, so a killed process leaves whole lines only.
//! - `--no-claim` keeps the bookmark in memory, so the handler takes no claim: every process
//!   runs its own copy, as every process did before claims existed. Only the tests that show
//!   what the checks catch use it.
//!
//! It prints `owner=<claim owner>` once started, and every error the handler reports on
//! stderr.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use evtstore::prelude::*;
use evtstore_tests::domain::{UserEvent, UserEventHandler};
use evtstore_tests::fold_table::{FoldModel, FoldTables};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The parsed command line.
struct Args {
    url: String,
    name: String,
    transactional: bool,
    segments: u32,
    max_claimed: usize,
    lease: Duration,
    page: usize,
    tables: String,
    out: Option<String>,
    no_claim: bool,
    deadline: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut raw = std::env::args().skip(1);
    let url = raw
        .next()
        .ok_or("usage: projector <url> --name <handler> --mode tx|plain ..")?;
    let mut args = Args {
        url,
        name: String::new(),
        transactional: true,
        segments: 1,
        max_claimed: 1,
        lease: evtstore::DEFAULT_LEASE,
        page: 20,
        tables: "fold".to_owned(),
        out: None,
        no_claim: false,
        deadline: Duration::from_secs(300),
    };
    while let Some(flag) = raw.next() {
        if flag == "--no-claim" {
            args.no_claim = true;
            continue;
        }
        let value = raw.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|error| format!("{flag} {value}: {error}"))
        };
        match flag.as_str() {
            "--name" => args.name.clone_from(&value),
            "--mode" => {
                args.transactional = match value.as_str() {
                    "tx" => true,
                    "plain" => false,
                    other => return Err(format!("--mode is tx or plain, not {other}")),
                }
            }
            "--segments" => args.segments = u32::try_from(number()?).map_err(|e| e.to_string())?,
            "--max-claimed" => {
                args.max_claimed = usize::try_from(number()?).map_err(|e| e.to_string())?;
            }
            "--lease-ms" => args.lease = Duration::from_millis(number()?),
            "--page" => args.page = usize::try_from(number()?).map_err(|e| e.to_string())?,
            "--tables" => args.tables.clone_from(&value),
            "--out" => args.out = Some(value.clone()),
            "--deadline-secs" => args.deadline = Duration::from_secs(number()?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.name.is_empty() {
        return Err("--name is required".to_owned());
    }
    if !args.transactional && args.out.is_none() {
        return Err("--mode plain needs --out".to_owned());
    }
    Ok(args)
}

/// The plain model: one line per event handled.
struct LineRecorder {
    file: Mutex<std::fs::File>,
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
}

impl LineRecorder {
    fn record(&self, aggregate_id: &str, meta: &EventMeta, start: u128) -> HandlerResult {
        // Handling takes a little while, so that two runners at once would overlap in time.
        std::thread::sleep(Duration::from_micros(200));
        let line = format!(
            "{} {} {aggregate_id} {} {start} {}\n",
            std::process::id(),
            meta.position(),
            meta.version,
            now_ns()
        );
        let mut file = self.file.lock().map_err(|_| "poisoned")?;
        file.write_all(line.as_bytes())?;
        Ok(())
    }
}

impl UserEventHandler for LineRecorder {
    async fn created(&self, id: &str, _name: &String, meta: &EventMeta) -> HandlerResult {
        self.record(id, meta, now_ns())
    }
    async fn disabled(&self, id: &str, meta: &EventMeta) -> HandlerResult {
        self.record(id, meta, now_ns())
    }
    async fn enabled(&self, id: &str, meta: &EventMeta) -> HandlerResult {
        self.record(id, meta, now_ns())
    }
}

/// The builder settings both modes share.
fn configure<S: Store, H: Send + Sync + 'static>(
    builder: evtstore::HandlerBuilder<S, H>,
    args: &Args,
) -> evtstore::HandlerBuilder<S, H> {
    let mut builder = builder
        .page_size(args.page)
        .idle_poll(Duration::from_millis(5))
        .error_backoff(Duration::from_millis(50))
        .lease(args.lease)
        .segments(args.segments)
        .max_claimed_segments(args.max_claimed)
        .on_error(|error| eprintln!("handler error: {error}"));
    if args.no_claim {
        builder = builder.bookmark_in_memory();
    }
    builder
}

async fn run(args: Args) -> Result<(), BoxError> {
    let store = evtstore_sqlx::connect(&args.url).await?;
    let domain = Domain::new(store.clone());
    let running = if args.transactional {
        let tables = FoldTables::new(&args.tables);
        tables.create(&store).await?;
        let builder = domain
            .handler(&args.name, FoldModel { tables })
            .project::<UserEvent>();
        let handler = configure(builder, &args).build();
        println!("owner={}", handler.owner());
        handler.start()
    } else {
        let path = args.out.as_deref().unwrap_or_default();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let model = LineRecorder {
            file: Mutex::new(file),
        };
        let builder = domain.handler(&args.name, model).stream::<UserEvent>();
        let handler = configure(builder, &args).build();
        println!("owner={}", handler.owner());
        handler.start()
    };
    std::io::stdout().flush()?;
    tokio::time::sleep(args.deadline).await;
    running.stop().await;
    Err("deadline reached".into())
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("projector: {message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot start a runtime");
    if let Err(error) = runtime.block_on(run(args)) {
        eprintln!("projector: {error}");
        std::process::exit(1);
    }
}
