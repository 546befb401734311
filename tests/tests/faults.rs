//! Bad input and faults on the SQL stores: rows the code cannot decode, errors that are not
//! version conflicts, lost connections, bad configuration.

mod common;

use evtstore_tests::ReadEvents;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Backend, exec, unmigrated};
use evtstore::{
    Aggregate, Append, Cursor, Domain, Error, ErrorKind, EventMeta, HandledBy, HandlerOptions,
    HandlerResult, NewEvent, Store, Timestamp,
};
use evtstore_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use evtstore_sqlx::sqlx::{self, Connection};
use evtstore_sqlx::{ConnectOptions, PgStore, SqlStore, Tables};
use evtstore_tests::domain::{PostCommand, PostCommands, PostEvent, PostsModel, UserEvent};

const BACKENDS: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::MySql];

async fn migrated(backend: Backend) -> SqlStore {
    let store = unmigrated(backend).await;
    store.migrate().await.expect("migration failed");
    store
}

async fn append_user(store: &SqlStore, id: &str, version: u64, json: &str) -> Result<(), Error> {
    let events = [NewEvent {
        version,
        event_type: "raw",
        event: json.to_owned(),
    }];
    store
        .append(Append {
            stream: UserEvent::STREAM,
            aggregate_id: id,
            events: &events,
            timestamp: Timestamp::now(),
            metadata: None,
        })
        .await
}

/// Rows changed behind the store's back, one whose JSON does not parse and one whose type the
/// code does not know, fail a handler with an error naming stream, aggregate, position and
/// type; under `continue_on_error` they are skipped and the rest is handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_rows_fail_the_handler_with_their_place() {
    for backend in BACKENDS {
        let store = migrated(backend).await;
        for id in ["a", "b", "c", "d"] {
            append_user(&store, id, 1, r#"{"type":"created","name":"x"}"#)
                .await
                .unwrap();
        }
        exec(
            &store,
            "UPDATE events SET event = 'not json {' WHERE aggregate_id = 'b'",
        )
        .await;
        exec(
            &store,
            r#"UPDATE events SET event = '{"type":"promoted"}' WHERE aggregate_id = 'c'"#,
        )
        .await;
        let positions: Vec<i64> = store
            .read_events(&["users"], Cursor::START, 10)
            .await
            .unwrap()
            .iter()
            .map(|event| event.cursor.position)
            .collect();

        let domain = Domain::new(store.clone());
        let strict = domain
            .handler("strict", PostsModel::default())
            .stream::<UserEvent>()
            .build();
        match strict.run_once().await.unwrap_err() {
            Error::Handler {
                stream,
                aggregate_id,
                position,
                event_type,
                ..
            } => assert_eq!(
                (
                    stream.as_str(),
                    aggregate_id.as_str(),
                    position,
                    event_type.as_str()
                ),
                ("users", "b", positions[1], "?"),
                "{backend:?}"
            ),
            other => panic!("{backend:?}: expected a handler error, got {other:?}"),
        }
        assert_eq!(strict.model().seen_ids(), ["a"], "{backend:?}");
        assert_eq!(
            store.bookmark("strict").await.unwrap(),
            Some(Cursor {
                commit: store
                    .read_events(&["users"], Cursor::START, 1)
                    .await
                    .unwrap()[0]
                    .cursor
                    .commit,
                position: positions[0]
            }),
            "{backend:?}: the bookmark must stay at the last event handled"
        );

        let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let reported = std::sync::Arc::clone(&errors);
        let lenient = domain
            .handler("lenient", PostsModel::default())
            .stream::<UserEvent>()
            .options(HandlerOptions {
                continue_on_error: true,
                ..HandlerOptions::default()
            })
            .on_error(move |error| reported.lock().unwrap().push(error.to_string()))
            .build();
        assert_eq!(lenient.run_once().await.unwrap(), 2, "{backend:?}");
        assert_eq!(lenient.model().seen_ids(), ["a", "d"], "{backend:?}");
        let errors = errors.lock().unwrap().clone();
        assert_eq!(errors.len(), 2, "{backend:?}: {errors:?}");
        assert!(
            errors[0].contains("users/b") && errors[0].contains(&positions[1].to_string()),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("users/c") && errors[1].contains("`promoted`"),
            "{errors:?}"
        );
    }
}

/// A NOT NULL violation is a database error with the database's message, not a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_null_violation_is_a_database_error() {
    for backend in BACKENDS {
        let store = unmigrated(backend).await;
        // An events table created beforehand with a stricter metadata column: `migrate` keeps
        // it, and an append without metadata breaks the constraint.
        let create = match backend {
            Backend::Sqlite => {
                "CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, \
                 version INTEGER NOT NULL, stream TEXT NOT NULL, aggregate_id TEXT NOT NULL, \
                 timestamp INTEGER NOT NULL, event TEXT NOT NULL, metadata TEXT NOT NULL)"
            }
            Backend::Postgres => {
                "CREATE TABLE events (position BIGSERIAL PRIMARY KEY, version BIGINT NOT NULL, \
                 stream TEXT NOT NULL, aggregate_id TEXT NOT NULL, timestamp TIMESTAMPTZ NOT NULL, \
                 event TEXT NOT NULL, metadata TEXT NOT NULL)"
            }
            Backend::MySql => {
                "CREATE TABLE events (position BIGINT UNSIGNED NOT NULL PRIMARY KEY, \
                 version BIGINT NOT NULL, stream VARCHAR(255) NOT NULL, \
                 aggregate_id VARCHAR(255) NOT NULL, timestamp DATETIME(3) NOT NULL, \
                 event LONGTEXT NOT NULL, metadata TEXT NOT NULL)"
            }
        };
        exec(&store, create).await;
        store.migrate().await.unwrap();
        let error = append_user(&store, "a", 1, r#"{"type":"enabled"}"#)
            .await
            .unwrap_err();
        match &error {
            Error::Database { operation, source } => {
                assert_eq!(operation, "appending to users/a", "{backend:?}");
                let message = source.to_string().to_lowercase();
                assert!(
                    message.contains("null") && message.contains("metadata"),
                    "{backend:?}: {message}"
                );
            }
            other => panic!("{backend:?}: expected a database error, got {other:?}"),
        }
        assert!(store.load("users", "a", 0).await.unwrap().is_empty());
    }
}

/// A PostgreSQL events table whose positions are `integer` (created beforehand: `migrate`
/// keeps it) is refused when read, with an error naming the column, rather than read with
/// values decoded as the wrong type: the result's column types are checked once, and its values
/// then read without a check each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_column_of_the_wrong_type_is_named() {
    let store = unmigrated(Backend::Postgres).await;
    exec(
        &store,
        "CREATE TABLE events (position SERIAL PRIMARY KEY, version INTEGER NOT NULL, \
         stream VARCHAR(255) NOT NULL, aggregate_id VARCHAR(255) NOT NULL, \
         timestamp TIMESTAMPTZ NOT NULL, event TEXT NOT NULL, metadata TEXT)",
    )
    .await;
    store.migrate().await.unwrap();
    append_user(&store, "a", 1, r#"{"type":"enabled"}"#)
        .await
        .unwrap();
    let replayed = store.replay("users", "a", 0, None, |_| Ok(())).await;
    let loaded = store.load("users", "a", 0).await;
    for (what, outcome) in [("replay", replayed.err()), ("load", loaded.err())] {
        let Some(Error::Database { source, .. }) = outcome else {
            panic!("{what}: expected a database error, got {outcome:?}");
        };
        let message = source.to_string();
        assert!(
            message.contains("(position)") && message.contains("expected bigint"),
            "{what}: {message}"
        );
    }
}

/// An aggregate id or bookmark name longer than the schema keeps (255 characters) is refused
/// before anything is written, on every backend (SQLite would keep it; MySQL outside strict
/// mode would cut it, and a cut bookmark name would never be found again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_long_names_are_refused() {
    for backend in BACKENDS {
        let store = migrated(backend).await;
        let long = "x".repeat(256);
        let error = append_user(&store, &long, 1, r#"{"type":"enabled"}"#)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::TooLong {
                    what: "aggregate id",
                    length: 256,
                    max: 255,
                    ..
                }
            ),
            "{backend:?}: {error:?}"
        );
        assert_eq!(error.kind(), ErrorKind::BadInput);
        let error = store.set_bookmark(&long, Cursor::at(1)).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::TooLong {
                    what: "bookmark name",
                    ..
                }
            ),
            "{backend:?}: {error:?}"
        );
        assert!(store.bookmark(&long).await.is_err(), "{backend:?}");
        // 255 characters fit.
        let longest = "y".repeat(255);
        store.set_bookmark(&longest, Cursor::at(1)).await.unwrap();
        assert_eq!(store.bookmark(&longest).await.unwrap(), Some(Cursor::at(1)));
        append_user(&store, &longest, 1, r#"{"type":"enabled"}"#)
            .await
            .unwrap();
        let stored = store
            .read_events(&["users"], Cursor::START, 10)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1, "{backend:?}");
    }
}

/// A command whose method loads another aggregate with `?` and meets a database that does not
/// answer fails with that database error (kind `Unavailable`), not a refusal, and appends
/// nothing. The posts live on a real PostgreSQL; the users the command checks live on a store
/// whose server is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_load_inside_command_is_not_a_refusal() {
    let posts = PgStore::from_pool(
        PgPoolOptions::new()
            .connect_with(common::postgres_schema().await)
            .await
            .unwrap(),
        Tables::default(),
    );
    posts.migrate().await.unwrap();
    let unreachable = PgStore::from_pool(
        PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy_with("postgres://postgres@127.0.0.1:1/test".parse().unwrap()),
        Tables::default(),
    );
    let commands = Domain::new(posts.clone()).commands(PostCommands {
        domain: Domain::new(unreachable),
    });
    let create = PostCommand::CreatePost {
        user_id: "alice".into(),
        content: "hello".into(),
    };
    let error = commands.execute("post-1", &create).await.unwrap_err();
    assert!(matches!(error, Error::Database { .. }), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    let stored = posts
        .read_events(&[PostEvent::STREAM], Cursor::START, 10)
        .await
        .unwrap();
    assert!(stored.is_empty(), "{stored:?}");
}

/// A unique violation on (stream, aggregate_id, version) is a version conflict, also when the
/// versions raced past the store's own check; the batch appends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_version_is_a_conflict() {
    for backend in BACKENDS {
        let store = migrated(backend).await;
        append_user(&store, "a", 1, r#"{"type":"enabled"}"#)
            .await
            .unwrap();
        let error = append_user(&store, "a", 1, r#"{"type":"enabled"}"#)
            .await
            .unwrap_err();
        assert!(error.is_version_conflict(), "{backend:?}: {error:?}");
        // A gap is refused too: versions continue the aggregate exactly.
        let error = append_user(&store, "a", 3, r#"{"type":"enabled"}"#)
            .await
            .unwrap_err();
        assert!(error.is_version_conflict(), "{backend:?}: {error:?}");
        assert_eq!(store.load("users", "a", 0).await.unwrap().len(), 1);
    }
}

/// Table names that are not plain identifiers are refused before any SQL runs; a bad scheme is
/// a configuration error.
#[tokio::test]
async fn bad_configuration_is_refused() {
    for bad in ["events; DROP TABLE x", "ev\"ents", "", "1events", "a.b"] {
        let error = Tables::new(bad, "bookmarks", "snapshots").unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{bad:?}: {error:?}");
    }
    for url in ["ftp://host/db", "nothing", "sqlite"] {
        let error = evtstore_sqlx::connect(url).await.unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{url}: {error:?}");
    }
}

/// Two stores with their own table names share one database without seeing each other, and
/// their index names include the table names (PostgreSQL index names are per schema, so
/// fixed names would collide).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_table_names_keep_stores_apart() {
    let pool = common::postgres_pool(4).await;
    let billing = PgStore::from_pool(pool.clone(), Tables::with_prefix("billing_").unwrap());
    let shipping = PgStore::from_pool(pool.clone(), Tables::with_prefix("shipping_").unwrap());
    billing.migrate().await.unwrap();
    shipping.migrate().await.unwrap();
    billing.migrate().await.unwrap();
    let store = SqlStore::Postgres(billing.clone());
    append_user(&store, "a", 1, r#"{"type":"enabled"}"#)
        .await
        .unwrap();
    assert_eq!(billing.load("users", "a", 0).await.unwrap().len(), 1);
    assert!(shipping.load("users", "a", 0).await.unwrap().is_empty());
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() \
         AND indexname LIKE '%version_unique' ORDER BY indexname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        indexes,
        [
            "billing_events_stream_aggregate_id_version_unique",
            "shipping_events_stream_aggregate_id_version_unique"
        ]
    );

    let sqlite = evtstore_sqlx::connect_with(
        &common::sqlite_file_url(),
        ConnectOptions::new().tables(Tables::new("ev", "marks", "snaps").unwrap()),
    )
    .await
    .unwrap();
    sqlite.migrate().await.unwrap();
    append_user(&sqlite, "a", 1, r#"{"type":"enabled"}"#)
        .await
        .unwrap();
    assert_eq!(sqlite.tables().events(), "ev");
    assert_eq!(sqlite.load("users", "a", 0).await.unwrap().len(), 1);
}

/// A tiny aggregate for the lost-connection test.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Step {
    Step,
}

impl Aggregate for Step {
    type State = ();
    const STREAM: &'static str = "steps";
    const EVENT_TYPES: &'static [&'static str] = &["step"];

    fn event_type(&self) -> &'static str {
        "step"
    }

    fn fold(_: &mut (), _: &Self) {}
}

/// A model that cuts the store off while a read is in flight. At the last event of each page
/// it locks the events table from another connection; at the first event of the next page it
/// waits for a read of the store to block on the lock. If one does (the store reads ahead, so
/// not every page needs a read), it terminates the store's connections, the blocked read among
/// them; either way it then releases the lock.
struct Saboteur {
    admin_options: PgConnectOptions,
    application_name: String,
    page_size: usize,
    handled: AtomicUsize,
    cut_off: std::sync::atomic::AtomicBool,
    cursors: std::sync::Mutex<Vec<Cursor>>,
    admin: tokio::sync::Mutex<Option<sqlx::PgConnection>>,
}

impl Saboteur {
    async fn lock_events(&self) -> HandlerResult {
        // Let the read issued with this page finish before the lock is taken.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut admin = sqlx::PgConnection::connect_with(&self.admin_options).await?;
        sqlx::raw_sql("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            .execute(&mut admin)
            .await?;
        *self.admin.lock().await = Some(admin);
        Ok(())
    }

    async fn cut_off_blocked_read(&self) -> HandlerResult {
        let Some(mut admin) = self.admin.lock().await.take() else {
            return Ok(());
        };
        for _ in 0..50 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = $1 AND wait_event_type = 'Lock'",
            )
            .bind(&self.application_name)
            .fetch_one(&mut admin)
            .await?;
            if waiting > 0 {
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1",
                )
                .bind(&self.application_name)
                .execute(&mut admin)
                .await?;
                self.cut_off.store(true, Ordering::SeqCst);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sqlx::raw_sql("ROLLBACK").execute(&mut admin).await?;
        Ok(())
    }
}

impl HandledBy<Saboteur> for Step {
    async fn dispatch(model: &Saboteur, _: &str, _: &Self, meta: &EventMeta) -> HandlerResult {
        let handled = model.handled.fetch_add(1, Ordering::SeqCst) + 1;
        if !model.cut_off.load(Ordering::SeqCst) {
            if handled.is_multiple_of(model.page_size) {
                model.lock_events().await?;
            } else if handled % model.page_size == 1 {
                model.cut_off_blocked_read().await?;
            }
        }
        model
            .cursors
            .lock()
            .map_err(|_| "poisoned")?
            .push(meta.cursor);
        Ok(())
    }
}

/// A connection lost while a page is handled (the read of the next page fails) ends the run
/// with a database error, leaves the bookmark at the last event handled, and the next run
/// goes on from there: nothing skipped, nothing handled twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_mid_batch_keeps_the_bookmark() {
    let admin_options = common::postgres_schema().await;
    let application_name = common::unique_name("evtstore_fault");
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(admin_options.clone().application_name(&application_name))
        .await
        .unwrap();
    let store = PgStore::from_pool(pool, Tables::default());
    store.migrate().await.unwrap();
    // More events than one read fetches ahead (32 pages of 5), so that reads go on during the
    // run and one of them meets the lock.
    let total = 500;
    let events: Vec<NewEvent> = (1..=total)
        .map(|version| NewEvent {
            version,
            event_type: "step",
            event: r#"{"type":"step"}"#.to_owned(),
        })
        .collect();
    store
        .append(Append {
            stream: Step::STREAM,
            aggregate_id: "s",
            events: &events,
            timestamp: Timestamp::now(),
            metadata: None,
        })
        .await
        .unwrap();
    let page_size = 5;
    let model = Saboteur {
        admin_options,
        application_name,
        page_size,
        handled: AtomicUsize::new(0),
        cut_off: std::sync::atomic::AtomicBool::new(false),
        cursors: std::sync::Mutex::new(Vec::new()),
        admin: tokio::sync::Mutex::new(None),
    };
    let domain = Domain::new(store.clone());
    let handler = domain
        .handler("fragile", model)
        .stream::<Step>()
        .page_size(page_size)
        .build();
    let error = handler.run_once().await.unwrap_err();
    assert!(matches!(error, Error::Database { .. }), "{error:?}");
    assert!(handler.model().cut_off.load(Ordering::SeqCst));
    let handled = handler.model().cursors.lock().unwrap().clone();
    assert!(handled.len() < total as usize, "the run stopped early");
    assert_eq!(
        store.bookmark("fragile").await.unwrap(),
        handled.last().copied(),
        "the bookmark is at the last event handled"
    );
    // The next run (the pool opens new connections) handles the rest, once.
    assert_eq!(
        handler.run_once().await.unwrap(),
        total as usize - handled.len()
    );
    let all = handler.model().cursors.lock().unwrap().clone();
    assert_eq!(all.len(), total as usize);
    assert!(all.windows(2).all(|pair| pair[0] < pair[1]));
}

/// A PostgreSQL server that does not answer fails the test with a message that says so (the
/// tests never skip).
#[tokio::test]
#[should_panic(expected = "does not answer")]
async fn silent_postgres_fails_clearly() {
    common::postgres_schema_at("postgres://postgres@127.0.0.1:1/test").await;
}

/// The same for MySQL/MariaDB.
#[tokio::test]
#[should_panic(expected = "does not answer")]
async fn silent_mysql_fails_clearly() {
    common::mysql_database_at("mysql://root@127.0.0.1:1/test").await;
}

/// Aggregate ids that differ only by trailing spaces (or case) are different aggregates on every
/// backend. MariaDB's `utf8mb4_bin` pads with spaces and made `alice` and `alice ` one key; the
/// tables use the no-pad binary collation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_differing_by_trailing_spaces_are_distinct() {
    for backend in BACKENDS {
        let store = migrated(backend).await;
        for id in ["alice", "alice ", "alice  ", "Alice"] {
            append_user(&store, id, 1, r#"{"type":"created","name":"x"}"#)
                .await
                .unwrap_or_else(|error| panic!("{backend:?} {id:?}: {error}"));
        }
        for id in ["alice", "alice ", "alice  ", "Alice"] {
            let events = store.load("users", id, 0).await.unwrap();
            assert_eq!(events.len(), 1, "{backend:?} {id:?}");
        }
        store.set_bookmark("b", Cursor::at(1)).await.unwrap();
        store.set_bookmark("b ", Cursor::at(2)).await.unwrap();
        assert_eq!(
            store.bookmark("b").await.unwrap(),
            Some(Cursor::at(1)),
            "{backend:?}"
        );
    }
}

/// MariaDB positions come from AUTO_INCREMENT, which follows rows other writers insert: a row
/// written by another program at the next position, or far ahead, neither blocks appends
/// (the first release's sequence table then failed every append with a duplicate key) nor
/// makes later appends land below it, where a reader that read it would skip them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_positions_follow_rows_written_by_others() {
    let store = migrated(Backend::MySql).await;
    append_user(&store, "a", 1, r#"{"type":"enabled"}"#)
        .await
        .unwrap();
    let next = store.last_cursor(&["users"]).await.unwrap().position + 1;
    for (id, position) in [("other1", next), ("other2", next + 1000)] {
        exec(
            &store,
            &format!(
                "INSERT INTO events (position, stream, aggregate_id, version, timestamp, event) \
                 VALUES ({position}, 'users', '{id}', 1, NOW(3), '{{\"type\":\"enabled\"}}')"
            ),
        )
        .await;
        append_user(&store, id, 2, r#"{"type":"enabled"}"#)
            .await
            .unwrap_or_else(|error| panic!("after a row at {position}: {error}"));
        let last = store.load("users", id, 0).await.unwrap();
        assert!(
            last[1].cursor.position > position,
            "an append after the row at {position} landed at {}",
            last[1].cursor.position
        );
    }
}

/// A projection whose transaction the database has ended (here the model ends it itself with
/// `ROLLBACK`, as a deadlock makes MySQL do) fails the page even under `continue_on_error`:
/// returning to the savepoint fails, and the page stops before the failing event, as without
/// `continue_on_error`. Were the failure taken for the event's, the later events' writes would
/// run outside any transaction, unfenced, and the earlier ones would be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_whose_transaction_ended_fails_the_page() {
    use evtstore_sqlx::sqlx::{Postgres, Transaction};
    use evtstore_tests::domain::UserEventProjection;

    struct Breaking;

    impl UserEventProjection<Transaction<'static, Postgres>> for Breaking {
        async fn created(
            &self,
            transaction: &mut Transaction<'static, Postgres>,
            aggregate_id: &str,
            _name: &String,
            _meta: &EventMeta,
        ) -> HandlerResult {
            sqlx::query("INSERT INTO projected (aggregate_id) VALUES ($1)")
                .bind(aggregate_id)
                .execute(&mut **transaction)
                .await?;
            if aggregate_id == "breaker" {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut **transaction)
                    .await?;
                return Err("the transaction was rolled back under the model".into());
            }
            Ok(())
        }
    }

    let store = common::postgres().await;
    sqlx::raw_sql("CREATE TABLE projected (aggregate_id TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    let domain = Domain::new(store.clone());
    let users = domain.commands(evtstore_tests::domain::UserCommands::default());
    for id in ["a", "breaker", "c"] {
        users
            .execute(id, &evtstore_tests::create_user(id))
            .await
            .unwrap();
    }
    let model = domain
        .handler("breaking", Breaking)
        .project::<UserEvent>()
        .options(HandlerOptions {
            continue_on_error: true,
            ..HandlerOptions::default()
        })
        .on_error(|_| {})
        .build();
    let error = model.run_once().await.unwrap_err();
    assert!(matches!(error, Error::Database { .. }), "{error:?}");
    let rows: Vec<String> = sqlx::query_scalar("SELECT aggregate_id FROM projected")
        .fetch_all(store.pool())
        .await
        .unwrap();
    // The page is rolled back; the events before the failing one are projected again in a
    // transaction of their own and kept with their bookmark, as after any failing page.
    assert_eq!(rows, ["a"]);
    let first = store
        .read_events(&["users"], Cursor::START, 1)
        .await
        .unwrap()[0]
        .cursor;
    assert_eq!(store.bookmark("breaking").await.unwrap(), Some(first));
}
