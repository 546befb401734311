//! One process of the concurrent-migration test (`tests/tests/migrate_concurrently.rs`).
//!
//! ```text
//! migrate_worker migrate <url> <times> [--pause-ms 0] [--deadline-secs 60]
//! migrate_worker append  <url> <count> <id-prefix> [--wait tables|schema] [--schema-wait-secs 15]
//!                        [--deadline-secs 60]
//! ```
//!
//! - **migrate** connects with [`evtstore_sqlx::connect`] and calls `migrate()` `<times>`
//!   times, `--pause-ms` apart. It prints one line per call,
//!   `call=<n> start_ms=<unix ms> ms=<duration>`, then `migrated=<times> max_ms=<longest>`,
//!   and exits non-zero with the error on the first call that fails.
//! - **append** connects, then appends `<count>` single-event commands with
//!   [`Store::append`], each on an aggregate of its own (`<id-prefix>-<n>`, version 1, stream
//!   [`STREAM`]). While the schema is not there yet it retries: on an error saying the events
//!   table does not exist, and with `--wait schema` also on one saying a column of it does not
//!   exist (a TypeScript table not yet migrated), never on any other error, never once an append
//!   succeeded, and for `--schema-wait-secs` at most. It prints
//!   `appended=<count> first_ms=<unix ms> last_ms=<unix ms> max_latency_ms=<..> waited_ms=<..>
//!   retries=<..>`, where the latency is that of successful appends only and `waited_ms` is
//!   how long after connecting the first successful append started.
//!
//! Every process exits (code 124) at `--deadline-secs` after it started, whatever it is doing,
//! so that none outlives a test that was killed.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use evtstore::{Append, Error, NewEvent, Store, Timestamp};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The stream the appenders write to.
const STREAM: &str = "migrate_race";

/// How long an appender sleeps before trying again while the schema is missing.
const SCHEMA_POLL: Duration = Duration::from_millis(10);

/// What an appender waits for before its first append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// Retry only while the events table does not exist.
    Tables,
    /// Retry also while a column of it does not exist.
    Schema,
}

/// The command line: a role, positional arguments, then `--key value` options.
#[derive(Debug)]
struct Args {
    role: String,
    positional: Vec<String>,
    options: HashMap<String, String>,
}

const USAGE: &str = "usage: migrate_worker migrate <url> <times> [--pause-ms N] [--deadline-secs N]\n       \
                     migrate_worker append <url> <count> <id-prefix> [--wait tables|schema] \
                     [--schema-wait-secs N] [--deadline-secs N]";

impl Args {
    fn parse() -> Result<Self, BoxError> {
        let mut args = std::env::args().skip(1);
        let role = args.next().ok_or(USAGE)?;
        let mut positional = Vec::new();
        let mut options = HashMap::new();
        while let Some(arg) = args.next() {
            match arg.strip_prefix("--") {
                Some(key) => {
                    let value = args
                        .next()
                        .ok_or_else(|| format!("--{key} needs a value\n{USAGE}"))?;
                    options.insert(key.to_owned(), value);
                }
                None => positional.push(arg),
            }
        }
        Ok(Args {
            role,
            positional,
            options,
        })
    }

    fn positional(&self, index: usize, what: &str) -> Result<&str, BoxError> {
        self.positional
            .get(index)
            .map(String::as_str)
            .ok_or_else(|| format!("missing <{what}>\n{USAGE}").into())
    }

    fn number(&self, index: usize, what: &str) -> Result<u64, BoxError> {
        let text = self.positional(index, what)?;
        text.parse()
            .map_err(|_| format!("<{what}> `{text}` is not a number").into())
    }

    fn option(&self, key: &str, default: u64) -> Result<u64, BoxError> {
        match self.options.get(key) {
            Some(text) => text
                .parse()
                .map_err(|_| format!("--{key} `{text}` is not a number").into()),
            None => Ok(default),
        }
    }
}

fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

async fn migrate(args: &Args) -> Result<(), BoxError> {
    let url = args.positional(0, "url")?;
    let times = args.number(1, "times")?;
    let pause = Duration::from_millis(args.option("pause-ms", 0)?);
    let store = evtstore_sqlx::connect(url).await?;
    let mut longest = Duration::ZERO;
    for call in 1..=times {
        if call > 1 && !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let start_ms = unix_millis();
        let started = Instant::now();
        store
            .migrate()
            .await
            .map_err(|error| format!("migrate call {call} of {times} failed: {error}"))?;
        let took = started.elapsed();
        longest = longest.max(took);
        println!("call={call} start_ms={start_ms} ms={:.1}", millis(took));
    }
    println!("migrated={times} max_ms={:.1}", millis(longest));
    Ok(())
}

/// What part of the schema a database error says is missing, from its message (the same on
/// every version of each server): SQLite, PostgreSQL, then MySQL/MariaDB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Missing {
    Table,
    Column,
}

fn missing_schema(error: &Error) -> Option<Missing> {
    let Error::Database { source, .. } = error else {
        return None;
    };
    let message = match source.downcast_ref::<evtstore_sqlx::sqlx::Error>() {
        Some(evtstore_sqlx::sqlx::Error::Database(db)) => db.message().to_owned(),
        _ => return None,
    };
    let is_column = message.contains("has no column named")
        || (message.starts_with("column ") && message.ends_with("does not exist"))
        || message.starts_with("Unknown column ");
    let is_table = message.starts_with("no such table")
        || (message.starts_with("relation ") && message.ends_with("does not exist"))
        || (message.starts_with("Table ") && message.ends_with("doesn't exist"));
    if is_column {
        Some(Missing::Column)
    } else if is_table {
        Some(Missing::Table)
    } else {
        None
    }
}

async fn append(args: &Args) -> Result<(), BoxError> {
    let url = args.positional(0, "url")?;
    let count = args.number(1, "count")?;
    let prefix = args.positional(2, "id-prefix")?;
    let wait = match args.options.get("wait").map(String::as_str) {
        None | Some("tables") => Wait::Tables,
        Some("schema") => Wait::Schema,
        Some(other) => return Err(format!("--wait `{other}`: expected tables or schema").into()),
    };
    let schema_wait = Duration::from_secs(args.option("schema-wait-secs", 15)?);
    let store = evtstore_sqlx::connect(url).await?;
    let metadata = format!(r#"{{"by":"{prefix}"}}"#);
    let waiting = Instant::now();
    let deadline = waiting + schema_wait;
    let mut waited = None;
    let mut retries = 0_u64;
    let mut first_ms = None;
    let mut longest = Duration::ZERO;
    for n in 0..count {
        let aggregate_id = format!("{prefix}-{n}");
        let events = [NewEvent {
            version: 1,
            event_type: "appended",
            event: format!(r#"{{"type":"appended","n":{n}}}"#),
        }];
        loop {
            let start_ms = unix_millis();
            let started = Instant::now();
            let appended = store
                .append(Append {
                    stream: STREAM,
                    aggregate_id: &aggregate_id,
                    events: &events,
                    timestamp: Timestamp::now(),
                    metadata: Some(&metadata),
                })
                .await;
            match appended {
                Ok(()) => {
                    longest = longest.max(started.elapsed());
                    first_ms.get_or_insert(start_ms);
                    waited.get_or_insert_with(|| started - waiting);
                    break;
                }
                // Only before the first append: once the schema was there, it must stay.
                Err(error) if waited.is_none() => {
                    let retry = match missing_schema(&error) {
                        Some(Missing::Table) => true,
                        Some(Missing::Column) => wait == Wait::Schema,
                        None => false,
                    };
                    if !retry {
                        return Err(format!("append {aggregate_id} failed: {error}").into());
                    }
                    if Instant::now() + SCHEMA_POLL >= deadline {
                        return Err(format!(
                            "the schema was still missing after {schema_wait:?} ({retries} \
                             retries): {error}"
                        )
                        .into());
                    }
                    retries += 1;
                    tokio::time::sleep(SCHEMA_POLL).await;
                }
                Err(error) => {
                    return Err(format!("append {aggregate_id} failed: {error}").into());
                }
            }
        }
    }
    println!(
        "appended={count} first_ms={} last_ms={} max_latency_ms={:.1} waited_ms={:.1} \
         retries={retries}",
        first_ms.unwrap_or(0),
        unix_millis(),
        millis(longest),
        millis(waited.unwrap_or_default()),
    );
    Ok(())
}

async fn run(args: &Args) -> Result<(), BoxError> {
    match args.role.as_str() {
        "migrate" => migrate(args).await,
        "append" => append(args).await,
        other => Err(format!("unknown role `{other}`\n{USAGE}").into()),
    }
}

fn main() -> std::process::ExitCode {
    let outcome = Args::parse().and_then(|args| {
        let limit = Duration::from_secs(args.option("deadline-secs", 60)?);
        let role = args.role.clone();
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            eprintln!("migrate_worker {role}: still running at the deadline ({limit:?}); exiting");
            std::process::exit(124);
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime
            .block_on(run(&args))
            .map_err(|error| format!("migrate_worker {}: {error}", args.role).into())
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}
