//! Side by side with the TypeScript evtstore: the real npm package `evtstore@12.0.1`
//! (`tests/typescript/compat.js`, installed by `npm ci` the first time this test runs) and this
//! library write and read one database, on SQLite, PostgreSQL and MariaDB, whichever of them
//! created the tables.
//!
//! Each round, the TypeScript library creates a user, this library disables it, the TypeScript
//! library enables it again (folding this library's event, and computing the right version);
//! this library writes a post by that user (reading the TypeScript events to check that the
//! user exists), and the TypeScript library archives it (folding this library's event). Both
//! libraries then load both aggregates and must agree on version and state. Handlers:
//! - `ts-all` (TypeScript) and `rs-all` (this library) each run every round, and in the end
//!   have each handled every event of the database exactly once, in order, with its version;
//! - `shared` is one bookmark that the two libraries take turns to run: together they handle
//!   every event exactly once, in order, each resuming where the other left the bookmark.
//!
//! The processes run one after another (the mixed-fleet guarantees under concurrent writers
//! are in the README's section on running side by side). Node's MariaDB driver writes
//! `DATETIME` values in the process's local time unless told otherwise: the TypeScript side
//! runs in `America/New_York` with the driver's `timezone: 'Z'`, as the README tells users to
//! configure it, and every timestamp is checked on both sides.
//!
//! Without `node` on the PATH the tests pass after saying so on stderr; any other failure to
//! install or run the package fails them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use evtstore::Cursor;
use evtstore::prelude::*;
use evtstore_sqlx::SqlStore;
use evtstore_tests::ReadEvents;
use evtstore_tests::domain::{
    PostCommand, PostCommands, PostEvent, UserCommand, UserCommands, UserEvent,
};
use serde_json::{Value, json};

use crate::common::Backend;

/// Which library creates the tables.
#[derive(Clone, Copy, Debug)]
enum Creator {
    TypeScript,
    Rust,
}

/// Rounds of writes and handler runs.
const ROUNDS: usize = 3;

#[test]
fn sqlite_typescript_tables() {
    side_by_side(Backend::Sqlite, Creator::TypeScript);
}

#[test]
fn sqlite_rust_tables() {
    side_by_side(Backend::Sqlite, Creator::Rust);
}

#[test]
fn postgres_typescript_tables() {
    side_by_side(Backend::Postgres, Creator::TypeScript);
}

#[test]
fn postgres_rust_tables() {
    side_by_side(Backend::Postgres, Creator::Rust);
}

#[test]
fn mysql_typescript_tables() {
    side_by_side(Backend::MySql, Creator::TypeScript);
}

#[test]
fn mysql_rust_tables() {
    side_by_side(Backend::MySql, Creator::Rust);
}

/// One handled event, as either library reports it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Handled {
    position: i64,
    stream: String,
    aggregate_id: String,
    version: u64,
}

/// This library's handler model: what it was handed, in order.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Handled>>);

impl Recorder {
    fn record(&self, meta: &EventMeta) -> HandlerResult {
        self.0.lock().map_err(|_| "poisoned")?.push(Handled {
            position: meta.cursor.position,
            stream: meta.stream.to_owned(),
            aggregate_id: meta.aggregate_id.clone(),
            version: meta.version,
        });
        Ok(())
    }

    fn take(&self) -> Vec<Handled> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl evtstore_tests::domain::UserEventHandler for Recorder {
    async fn created(&self, _: &str, _: &String, meta: &EventMeta) -> HandlerResult {
        self.record(meta)
    }
    async fn disabled(&self, _: &str, meta: &EventMeta) -> HandlerResult {
        self.record(meta)
    }
    async fn enabled(&self, _: &str, meta: &EventMeta) -> HandlerResult {
        self.record(meta)
    }
}

impl evtstore_tests::domain::PostEventHandler for Recorder {
    async fn post_created(
        &self,
        _: &str,
        _: &String,
        _: &String,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.record(meta)
    }
    async fn post_archived(&self, _: &str, meta: &EventMeta) -> HandlerResult {
        self.record(meta)
    }
}

/// `tests/typescript`, with its packages installed (once per test binary), or `None` without
/// `node`.
fn typescript_dir() -> Option<&'static Path> {
    static INSTALLED: OnceLock<Option<PathBuf>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            if Command::new("node").arg("--version").output().is_err() {
                eprintln!(
                    "SKIPPED: `node` is not on the PATH, so the TypeScript evtstore cannot run; \
                     install Node 20 and npm to run the side-by-side tests"
                );
                return None;
            }
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("typescript");
            if !dir.join("node_modules/evtstore/package.json").exists() {
                let mut npm = Command::new("npm");
                npm.arg("ci")
                    .arg("--no-audit")
                    .arg("--no-fund")
                    .current_dir(&dir);
                // better-sqlite3 builds from source when its prebuilt binary cannot be fetched;
                // node-gyp then needs Node's headers, which Debian's nodejs installs here.
                if Path::new("/usr/include/node/node.h").exists() {
                    npm.env("npm_config_nodedir", "/usr");
                }
                let output = npm.output().expect("npm is installed beside node");
                assert!(
                    output.status.success(),
                    "`npm ci` in {} failed:\n{}\n{}",
                    dir.display(),
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Some(dir)
        })
        .as_deref()
}

/// One step of `compat.js`; its JSON output.
fn ts(dir: &Path, backend: &str, connection: &str, args: &[&str]) -> Value {
    let output = Command::new("node")
        .arg(dir.join("compat.js"))
        .args([backend, connection])
        .args(args)
        // A local time zone, and the driver told to write UTC (see the module docs).
        .env("TZ", "America/New_York")
        .env("EVTSTORE_TS_MYSQL_TIMEZONE", "Z")
        .output()
        .expect("node runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "compat.js {backend} {args:?} failed ({}):\n{stderr}",
        output.status
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("compat.js {args:?} printed no JSON ({error}):\n{stderr}"))
}

fn now_millis() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn handled_by_typescript(output: &Value) -> Vec<Handled> {
    output["handled"]
        .as_array()
        .expect("a handled list")
        .iter()
        .map(|event| Handled {
            position: event["position"].as_i64().expect("a position"),
            stream: event["stream"].as_str().expect("a stream").to_owned(),
            aggregate_id: event["aggregateId"].as_str().expect("an id").to_owned(),
            version: event["version"].as_u64().expect("a version"),
        })
        .collect()
}

fn side_by_side(backend: Backend, creator: Creator) {
    let Some(dir) = typescript_dir() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(common::database_url(backend));
    let (ts_backend, connection) = match backend {
        Backend::Sqlite => ("sqlite", url.clone()),
        Backend::Postgres => ("postgres", url.clone()),
        Backend::MySql => ("mysql", url.clone()),
    };
    let ts = |args: &[&str]| ts(dir, ts_backend, &connection, args);
    let label = format!("{backend:?}, tables of {creator:?}");
    let started = now_millis();

    let store: SqlStore = runtime
        .block_on(evtstore_sqlx::connect(&url))
        .expect("connect");
    match creator {
        Creator::TypeScript => {
            ts(&["migrate"]);
            runtime
                .block_on(store.migrate())
                .expect("migrate on the TypeScript tables");
        }
        Creator::Rust => {
            runtime.block_on(store.migrate()).expect("migrate");
            let migrated = ts(&["migrate"]);
            assert_eq!(migrated["created"], json!([]), "{label}: {migrated}");
        }
    }
    let domain = Domain::new(store.clone());
    let users = domain.commands(UserCommands::default());
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });
    let rs_all = domain
        .handler("rs-all", Recorder::default())
        .stream::<UserEvent>()
        .stream::<PostEvent>()
        .build();
    let rs_shared = domain
        .handler("shared", Recorder::default())
        .stream::<UserEvent>()
        .stream::<PostEvent>()
        .build();
    let (mut ts_all, mut rs_all_seen, mut shared) = (Vec::new(), Vec::new(), Vec::new());

    for round in 0..ROUNDS {
        let user = format!("u{round}");
        let post = format!("p{round}");
        let name = format!("User {round}");
        let created = ts(&[
            "command",
            "users",
            &user,
            &json!({"type": "create", "name": name}).to_string(),
        ]);
        assert_eq!(created["version"], 1, "{label}: {created}");
        let disabled = runtime
            .block_on(users.execute(&user, &UserCommand::Disable))
            .unwrap_or_else(|error| panic!("{label}: disable: {error}"));
        assert_eq!(
            (disabled.version, disabled.name.as_str()),
            (2, name.as_str()),
            "{label}"
        );
        let enabled = ts(&["command", "users", &user, r#"{"type":"enable"}"#]);
        assert_eq!(enabled["version"], 3, "{label}: {enabled}");
        assert_eq!(
            enabled["state"],
            json!({"name": name, "enabled": true}),
            "{label}"
        );

        let written = runtime
            .block_on(posts.execute(
                &post,
                &PostCommand::CreatePost {
                    user_id: user.clone(),
                    content: format!("post {round}"),
                },
            ))
            .unwrap_or_else(|error| panic!("{label}: create post: {error}"));
        assert_eq!(written.version, 1, "{label}");
        let archived = ts(&[
            "command",
            "posts",
            &post,
            &json!({"type": "archivePost", "userId": user}).to_string(),
        ]);
        assert_eq!(archived["version"], 2, "{label}: {archived}");
        let loaded = ts(&["load", "posts", &post]);
        assert_eq!(
            loaded["state"],
            json!({"content": format!("post {round}"), "userId": user, "archived": true}),
            "{label}: {loaded}"
        );
        let loaded_user = ts(&["load", "users", &user]);
        assert_eq!(loaded_user["version"], 3, "{label}: {loaded_user}");

        let fresh = evtstore_tests::fresh_domain(&domain);
        let post_agg = runtime.block_on(fresh.load::<PostEvent>(&post)).unwrap();
        assert_eq!(
            (
                post_agg.version,
                post_agg.archived,
                post_agg.user_id.as_str()
            ),
            (2, true, user.as_str()),
            "{label}"
        );
        let user_agg = runtime.block_on(fresh.load::<UserEvent>(&user)).unwrap();
        assert_eq!((user_agg.version, user_agg.enabled), (3, true), "{label}");

        ts_all.extend(handled_by_typescript(&ts(&[
            "handle", "ts-all", "users", "posts",
        ])));
        runtime
            .block_on(rs_all.run_once())
            .unwrap_or_else(|error| panic!("{label}: rs-all: {error}"));
        rs_all_seen.extend(rs_all.model().take());
        // The shared bookmark: the TypeScript library on even rounds, this one on odd ones.
        if round % 2 == 0 {
            shared.extend(handled_by_typescript(&ts(&[
                "handle", "shared", "users", "posts",
            ])));
        } else {
            runtime
                .block_on(rs_shared.run_once())
                .unwrap_or_else(|error| panic!("{label}: shared: {error}"));
            shared.extend(rs_shared.model().take());
        }
    }
    // An append at a version the TypeScript library wrote is a version conflict, not a second
    // event of that version: both libraries' rows share the unique key.
    let again = [evtstore::NewEvent {
        version: 1,
        event_type: "created",
        event: r#"{"type":"created","name":"again"}"#.to_owned(),
    }];
    let conflict = runtime.block_on(store.append(evtstore::Append {
        stream: "users",
        aggregate_id: "u0",
        events: &again,
        timestamp: evtstore::Timestamp::now(),
        metadata: None,
    }));
    assert!(
        matches!(conflict, Err(evtstore::Error::VersionConflict { .. })),
        "{label}: {conflict:?}"
    );
    // The other library's last turn with the shared bookmark, with nothing written since.
    runtime.block_on(rs_shared.run_once()).unwrap();
    shared.extend(rs_shared.model().take());
    shared.extend(handled_by_typescript(&ts(&[
        "handle", "shared", "users", "posts",
    ])));

    // Every event of the database, in position order, as this library reads it.
    let stored = runtime
        .block_on(store.read_events(&["users", "posts"], Cursor::START, 10_000))
        .unwrap();
    let mut all: Vec<Handled> = stored
        .iter()
        .map(|event| Handled {
            position: event.cursor.position,
            stream: event.stream.clone(),
            aggregate_id: event.aggregate_id.clone(),
            version: event.version,
        })
        .collect();
    all.sort();
    assert_eq!(all.len(), ROUNDS * 5, "{label}: {all:?}");
    let finished = now_millis();
    for event in &stored {
        let millis = event.timestamp.as_millis();
        // MariaDB's TypeScript tables keep whole seconds.
        assert!(
            millis >= started - 2_000 && millis <= finished + 2_000,
            "{label}: {}/{} v{} has the timestamp {millis}, not within {started}..{finished}",
            event.stream,
            event.aggregate_id,
            event.version
        );
    }
    assert_eq!(ts_all, all, "{label}: the TypeScript handler");
    assert_eq!(rs_all_seen, all, "{label}: this library's handler");
    assert_eq!(shared, all, "{label}: the shared bookmark, taken in turns");
}

/// Tables of earlier releases declared PostgreSQL's `version` BIGINT, which the TypeScript
/// library cannot append to: `migrate()` converts the column once, keeping the rows, and the
/// TypeScript library then appends the right version.
#[test]
fn postgres_bigint_version_of_earlier_releases_is_converted() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(common::database_url(Backend::Postgres));
    let store: SqlStore = runtime
        .block_on(evtstore_sqlx::connect(&url))
        .expect("connect");
    runtime.block_on(store.migrate()).expect("migrate");
    // The table as an earlier release made it, with events of this library.
    runtime.block_on(common::exec(
        &store,
        r#"ALTER TABLE "events" ALTER COLUMN "version" TYPE BIGINT"#,
    ));
    let users = Domain::new(store.clone()).commands(UserCommands::default());
    runtime
        .block_on(users.execute(
            "alice",
            &UserCommand::Create {
                name: "Alice".into(),
            },
        ))
        .unwrap();
    runtime.block_on(store.migrate()).expect("migrate again");
    let evtstore_sqlx::SqlStore::Postgres(pg) = &store else {
        unreachable!("a PostgreSQL store")
    };
    let column_type: String = runtime
        .block_on(
            evtstore_sqlx::sqlx::query_scalar(
                "SELECT data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'events' \
                 AND column_name = 'version'",
            )
            .fetch_one(pg.pool()),
        )
        .unwrap();
    assert_eq!(column_type, "integer");
    let alice = runtime
        .block_on(users.execute("alice", &UserCommand::Disable))
        .unwrap();
    assert_eq!(alice.version, 2);
    if let Some(dir) = typescript_dir() {
        let enabled = ts(
            dir,
            "postgres",
            &url,
            &["command", "users", "alice", r#"{"type":"enable"}"#],
        );
        assert_eq!(enabled["version"], 3, "{enabled}");
    }
}

/// A bookmark that another writer moved, in position order, past an event whose transaction
/// committed before that of an event at a lower position: resuming from it hands over the
/// event after the position that the other writer never saw, even though its txid is below
/// the one of the event at the position. (Resuming from the txid of the event at the position
/// skipped it.) The event at the position itself is handed over again: at least once.
#[test]
fn postgres_moved_bookmark_resumes_without_skipping_a_late_commit() {
    use evtstore_sqlx::sqlx;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = runtime.block_on(common::database_url(Backend::Postgres));
    let store: SqlStore = runtime
        .block_on(evtstore_sqlx::connect(&url))
        .expect("connect");
    runtime.block_on(store.migrate()).expect("migrate");
    let evtstore_sqlx::SqlStore::Postgres(pg) = &store else {
        unreachable!("a PostgreSQL store")
    };
    let insert = |id: &str| {
        format!(
            r#"INSERT INTO "events" ("stream", "aggregate_id", "version", "timestamp", "event")
               VALUES ('users', '{id}', 1, now(), '{{"type":"created","name":"{id}"}}')"#
        )
    };
    runtime.block_on(async {
        // `early` takes its transaction id first and its position last.
        let mut early = pg.pool().acquire().await.unwrap();
        sqlx::raw_sql("BEGIN; SELECT pg_current_xact_id()")
            .execute(&mut *early)
            .await
            .unwrap();
        let mut late = pg.pool().acquire().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "BEGIN; {}; COMMIT",
            insert("late")
        )))
        .execute(&mut *late)
        .await
        .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("{}; COMMIT", insert("early"))))
            .execute(&mut *early)
            .await
            .unwrap();
        // What the TypeScript library writes after handling position 1 (`late`).
        sqlx::raw_sql(r#"INSERT INTO "bookmarks" ("bookmark", "position") VALUES ('shared', 1)"#)
            .execute(pg.pool())
            .await
            .unwrap();
    });
    let stored = runtime
        .block_on(store.read_events(&["users"], Cursor::START, 10))
        .unwrap();
    let order: Vec<(&str, i64)> = stored
        .iter()
        .map(|event| (event.aggregate_id.as_str(), event.cursor.position))
        .collect();
    assert_eq!(
        order,
        [("early", 2), ("late", 1)],
        "the commit order this test sets up"
    );

    let handler = Domain::new(store.clone())
        .handler("shared", Recorder::default())
        .stream::<UserEvent>()
        .build();
    runtime.block_on(handler.run_once()).unwrap();
    let handled: Vec<String> = handler
        .model()
        .take()
        .into_iter()
        .map(|event| event.aggregate_id)
        .collect();
    assert!(
        handled.contains(&"early".to_owned()),
        "the event after the moved position was skipped: handled {handled:?}"
    );
    // The bookmark written back (the last event handled, `late`) is this library's again: a
    // second run resumes from it exactly and hands over nothing.
    assert_eq!(runtime.block_on(handler.run_once()).unwrap(), 0);
    // The TypeScript library resets the bookmark (position 0, the stored txid left as it was):
    // every event is handed over again, the one of the older transaction included.
    runtime.block_on(common::exec(
        &store,
        r#"UPDATE "bookmarks" SET "position" = 0 WHERE "bookmark" = 'shared'"#,
    ));
    runtime.block_on(handler.reset());
    runtime.block_on(handler.run_once()).unwrap();
    let mut again: Vec<String> = handler
        .model()
        .take()
        .into_iter()
        .map(|event| event.aggregate_id)
        .collect();
    again.sort();
    assert_eq!(again, ["early", "late"], "after the reset");
}
