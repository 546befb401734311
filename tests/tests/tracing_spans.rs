//! The spans a command runs in: an INFO `evtstore.command` span with its stream, aggregate,
//! attempts and appended events, and inside it the DEBUG spans of a SQL store's statements;
//! and the INFO `evtstore.handler.batch` span of each page a handler handles.
//!
//! Each test installs its own subscriber for its thread only (`with_default`) and runs its
//! commands on a current-thread runtime, so that every span it makes is seen by that
//! subscriber and by no other test's.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use evtstore::{Domain, DomainOptions, MemoryStore, Store};
use evtstore_sqlx::SqliteStore;
use evtstore_tests::create_user;
use evtstore_tests::domain::{UserCommand, UserCommands, UserEvent};
use evtstore_tests::fresh_domain;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// One span as the subscriber saw it: name, fields as text, and the index of its parent.
#[derive(Clone, Debug)]
struct Captured {
    name: &'static str,
    fields: BTreeMap<&'static str, String>,
    parent: Option<usize>,
}

/// The spans of one test, in the order they were opened.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Captured>>>);

/// Where a span is in [`Spans`], kept in the registry's extensions of the span.
struct Index(usize);

/// Writes every field as text: strings as they are, everything else as `Debug` prints it.
struct Fields<'a>(&'a mut BTreeMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("a new span is in the registry");
        let parent = span
            .parent()
            .and_then(|parent| parent.extensions().get::<Index>().map(|index| index.0));
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.0.lock().unwrap();
        spans.push(Captured {
            name: attrs.metadata().name(),
            fields,
            parent,
        });
        span.extensions_mut().insert(Index(spans.len() - 1));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("a recorded span is in the registry");
        let extensions = span.extensions();
        let Some(Index(index)) = extensions.get::<Index>() else {
            return;
        };
        values.record(&mut Fields(&mut self.0.lock().unwrap()[*index].fields));
    }
}

impl Spans {
    /// Runs `test` on a current-thread runtime with this collector as the thread's subscriber.
    fn capture<F: Future>(&self, test: impl FnOnce() -> F) -> F::Output {
        let subscriber = Registry::default().with(self.clone());
        tracing::subscriber::with_default(subscriber, || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(test())
        })
    }

    /// The spans named `name`, with their indexes.
    fn named(&self, name: &str) -> Vec<(usize, Captured)> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .cloned()
            .enumerate()
            .filter(|(_, span)| span.name == name)
            .collect()
    }

    /// The one span named `name`.
    fn one(&self, name: &str) -> (usize, Captured) {
        let mut named = self.named(name);
        assert_eq!(named.len(), 1, "{name}: {named:#?}");
        named.remove(0)
    }

    /// Whether the span at `index` is inside the span at `ancestor`, at any depth.
    fn is_inside(&self, index: usize, ancestor: usize) -> bool {
        let spans = self.0.lock().unwrap();
        let mut parent = spans[index].parent;
        while let Some(at) = parent {
            if at == ancestor {
                return true;
            }
            parent = spans[at].parent;
        }
        false
    }
}

/// The fields of a span that the test checks, as text.
fn fields<'s, const N: usize>(span: &'s Captured, names: [&str; N]) -> [Option<&'s str>; N] {
    names.map(|name| span.fields.get(name).map(String::as_str))
}

#[test]
fn command_span_on_memory_store() {
    let spans = Spans::default();
    spans.capture(|| async {
        let domain = Domain::new(MemoryStore::new());
        let users = domain.commands(UserCommands::default());
        users.execute("alice", &create_user("Alice")).await.unwrap();
        // A refusal appends nothing: one attempt, no event.
        users
            .execute("alice", &create_user("Alice"))
            .await
            .unwrap_err();
    });
    let commands = spans.named("evtstore.command");
    let [(_, created), (_, refused)] = &commands[..] else {
        panic!("{commands:#?}");
    };
    let checked = ["stream", "aggregate_id", "attempts", "events", "command"];
    assert_eq!(
        fields(created, checked),
        [
            Some("users"),
            Some("alice"),
            Some("1"),
            Some("1"),
            Some("create")
        ]
    );
    assert_eq!(
        fields(refused, checked),
        [
            Some("users"),
            Some("alice"),
            Some("1"),
            Some("0"),
            Some("create")
        ]
    );
    // The memory store opens no span of its own.
    assert!(spans.named("evtstore.append").is_empty());
}

#[test]
fn command_span_holds_the_sqlite_statement_spans() {
    let spans = Spans::default();
    spans.capture(|| async {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let users = Domain::new(store).commands(UserCommands::default());
        users.execute("alice", &create_user("Alice")).await.unwrap();
    });
    let (command, command_span) = spans.one("evtstore.command");
    assert_eq!(
        fields(
            &command_span,
            ["stream", "aggregate_id", "command", "attempts", "events"]
        ),
        [
            Some("users"),
            Some("alice"),
            Some("create"),
            Some("1"),
            Some("1")
        ]
    );
    let (append, append_span) = spans.one("evtstore.append");
    assert!(spans.is_inside(append, command), "{append_span:#?}");
    assert_eq!(
        fields(&append_span, ["stream", "aggregate_id", "events"]),
        [Some("users"), Some("alice"), Some("1")]
    );
    // The aggregate was not cached: it was replayed from the store, and had no event.
    let (replay, replay_span) = spans.one("evtstore.replay");
    assert!(spans.is_inside(replay, command), "{replay_span:#?}");
    assert_eq!(
        fields(
            &replay_span,
            [
                "stream",
                "aggregate_id",
                "after_version",
                "snapshot",
                "events"
            ]
        ),
        [
            Some("users"),
            Some("alice"),
            Some("0"),
            Some("false"),
            Some("0")
        ]
    );
}

#[test]
fn command_span_counts_the_attempts_of_a_conflict() {
    let spans = Spans::default();
    spans.capture(|| async {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let options = DomainOptions {
            retry_backoff: std::time::Duration::ZERO,
            ..DomainOptions::default()
        };
        let domain = Domain::with_options(store, options);
        let users = domain.commands(UserCommands::default());
        users.execute("alice", &create_user("Alice")).await.unwrap();
        // Another process disables alice: this domain's cached alice is one version behind,
        // so its own disable conflicts at version 2 and is decided again on version 2.
        fresh_domain(&domain)
            .commands(UserCommands::default())
            .execute("alice", &UserCommand::Disable)
            .await
            .unwrap();
        let alice = users.execute("alice", &UserCommand::Disable).await.unwrap();
        assert_eq!(alice.version, 3);
        let stored = domain.store().load("users", "alice", 0).await.unwrap();
        assert_eq!(stored.len(), 3);
    });
    let disables: Vec<_> = spans
        .named("evtstore.command")
        .into_iter()
        .filter(|(_, span)| span.fields.get("command").map(String::as_str) == Some("disable"))
        .collect();
    // The other process's disable first, then this domain's, decided twice.
    let [_, (command, retried)] = &disables[..] else {
        panic!("{disables:#?}");
    };
    assert_eq!(
        fields(retried, ["attempts", "events"]),
        [Some("2"), Some("1")]
    );
    // Two appends inside it, the first refused by the store; the load outside any command.
    let appends: Vec<_> = spans
        .named("evtstore.append")
        .into_iter()
        .filter(|(append, _)| spans.is_inside(*append, *command))
        .collect();
    assert_eq!(appends.len(), 2, "{appends:#?}");
    let (load, load_span) = spans.one("evtstore.load");
    assert_eq!(load_span.parent, None);
    assert!(!spans.is_inside(load, *command));
    assert_eq!(
        load_span.fields.get("events").map(String::as_str),
        Some("3")
    );
}

/// A handler's page runs in an INFO `evtstore.handler.batch` span with the handler's name,
/// the page's events and how many were handled.
#[test]
fn handler_batch_span() {
    let spans = Spans::default();
    spans.capture(|| async {
        let domain = Domain::new(MemoryStore::new());
        let users = domain.commands(UserCommands::default());
        for id in ["a", "b", "c"] {
            users.execute(id, &create_user(id)).await.unwrap();
        }
        let model = domain
            .handler("names", evtstore_tests::domain::PostsModel::default())
            .stream::<UserEvent>()
            .page_size(2)
            .build();
        assert_eq!(model.run_once().await.unwrap(), 3);
    });
    let batches = spans.named("evtstore.handler.batch");
    let seen: Vec<[Option<&str>; 3]> = batches
        .iter()
        .map(|(_, span)| fields(span, ["handler", "events", "handled"]))
        .collect();
    assert_eq!(
        seen,
        [
            [Some("names"), Some("2"), Some("2")],
            [Some("names"), Some("1"), Some("1")],
        ]
    );
}

/// A SQLite replay without positions whose lighter read finds the history not whole (a gap)
/// reads it again the way `replay` does, inside the same `evtstore.replay` span, which counts
/// the events handed over.
#[test]
fn sqlite_replay_read_again_is_one_span() {
    use evtstore_tests::cases::poison::PlantRows;

    let spans = Spans::default();
    let handed = spans.capture(|| async {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        for version in [1, 3, 4] {
            let event = r#"{"type":"created","name":"G"}"#;
            store.plant_row("gap", version, event).await.unwrap();
        }
        let mut versions = Vec::new();
        store
            .replay_without_positions("users", "gap", 0, None, |item| {
                if let evtstore::Replayed::Event { version, .. } = item {
                    versions.push(version);
                }
                Ok(())
            })
            .await
            .unwrap();
        versions
    });
    assert_eq!(handed, [1, 3, 4]);
    let (_, replay_span) = spans.one("evtstore.replay");
    assert_eq!(
        fields(&replay_span, ["aggregate_id", "snapshot", "events"]),
        [Some("gap"), Some("false"), Some("3")]
    );
}
