//! Optimistic concurrency: conflicting appends, retries, concurrent commands.

use std::sync::Arc;

use evtstore::{Append, Cursor, Domain, DomainOptions, Error, NewEvent, Store, Timestamp};

use crate::cases::append_raw;
use crate::domain::{UserCommand, UserCommands, UserEvent};
use crate::{create_user, fresh_domain};

/// An append at a version that exists fails with `VersionConflict` naming the aggregate, and
/// appends nothing.
pub async fn conflicting_append_is_version_conflict<S: Store>(store: S) {
    append_raw(
        &store,
        "users",
        "alice",
        1,
        r#"{"type":"created","name":"A"}"#,
    )
    .await
    .unwrap();
    let error = append_raw(
        &store,
        "users",
        "alice",
        1,
        r#"{"type":"created","name":"B"}"#,
    )
    .await
    .unwrap_err();
    match &error {
        Error::VersionConflict {
            stream,
            aggregate_id,
            version,
        } => {
            assert_eq!(
                (stream.as_str(), aggregate_id.as_str(), *version),
                ("users", "alice", 1)
            );
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    let stored = store.load("users", "alice", 0).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].event.contains("\"A\""));
}

/// A multi-event append that conflicts on one of its versions appends none of them.
pub async fn conflicting_batch_appends_nothing<S: Store>(store: S) {
    append_raw(
        &store,
        "users",
        "alice",
        1,
        r#"{"type":"created","name":"A"}"#,
    )
    .await
    .unwrap();
    append_raw(&store, "users", "alice", 2, r#"{"type":"disabled"}"#)
        .await
        .unwrap();
    let events = [
        NewEvent {
            version: 2,
            event_type: "enabled",
            event: r#"{"type":"enabled"}"#.into(),
        },
        NewEvent {
            version: 3,
            event_type: "disabled",
            event: r#"{"type":"disabled"}"#.into(),
        },
    ];
    let outcome = store
        .append(Append {
            stream: "users",
            aggregate_id: "alice",
            events: &events,
            timestamp: Timestamp::now(),
            metadata: None,
        })
        .await;
    assert!(
        matches!(outcome, Err(Error::VersionConflict { .. })),
        "{outcome:?}"
    );
    let versions: Vec<u64> = store
        .load("users", "alice", 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, [1, 2]);
    assert_eq!(
        store
            .read(&["users"], Cursor::START, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A domain whose cached aggregate is stale (another process appended) hits a conflict,
/// reloads, decides again and succeeds.
pub async fn stale_aggregate_is_retried<S: Store>(store: S) {
    let here = Domain::new(store.clone());
    let users = here.commands(UserCommands::default());
    users.execute("alice", &create_user("Alice")).await.unwrap();
    // Another process disables alice behind this domain's cache.
    let elsewhere = fresh_domain(&here).commands(UserCommands::default());
    elsewhere
        .execute("alice", &UserCommand::Disable)
        .await
        .unwrap();

    let alice = users.execute("alice", &UserCommand::Enable).await.unwrap();
    assert_eq!((alice.version, alice.enabled), (3, true));
    // The first decision saw the stale version 1, the retry the real version 2.
    assert_eq!(
        *users.command_set().seen_versions.lock().unwrap(),
        [0, 1, 2]
    );
    let history = fresh_domain(&here)
        .history::<UserEvent>("alice")
        .await
        .unwrap();
    let events: Vec<UserEvent> = history.into_iter().map(|r| r.event).collect();
    assert_eq!(
        events,
        [
            UserEvent::Created {
                name: "Alice".into()
            },
            UserEvent::Disabled,
            UserEvent::Enabled
        ]
    );
}

/// With retries off, a stale aggregate's conflict reaches the caller and nothing is appended.
pub async fn conflict_without_retries_reaches_caller<S: Store>(store: S) {
    let options = DomainOptions {
        retries: 0,
        ..DomainOptions::default()
    };
    let here = Domain::with_options(store.clone(), options);
    let users = here.commands(UserCommands::default());
    users.execute("alice", &create_user("Alice")).await.unwrap();
    let elsewhere = fresh_domain(&here).commands(UserCommands::default());
    elsewhere
        .execute("alice", &UserCommand::Disable)
        .await
        .unwrap();

    let error = users
        .execute("alice", &UserCommand::Enable)
        .await
        .unwrap_err();
    assert!(error.is_version_conflict(), "{error:?}");
    assert!(error.to_string().contains("users/alice"), "{error}");
    assert_eq!(store.load("users", "alice", 0).await.unwrap().len(), 2);
    // The failed attempt dropped the stale cache entry: the next command succeeds.
    assert_eq!(
        users
            .execute("alice", &UserCommand::Enable)
            .await
            .unwrap()
            .version,
        3
    );
}

/// Commands racing on one aggregate from separate domains all land, each exactly once, with
/// consecutive versions.
pub async fn concurrent_commands_on_one_aggregate_all_land<S: Store>(store: S) {
    let setup = Domain::new(store.clone()).commands(UserCommands::default());
    setup.execute("alice", &create_user("Alice")).await.unwrap();
    let writers = 6;
    let options = DomainOptions {
        retries: 50,
        ..DomainOptions::default()
    };
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let users = Arc::new(
            Domain::with_options(store.clone(), options).commands(UserCommands::default()),
        );
        tasks.push(tokio::spawn(async move {
            users.execute("alice", &UserCommand::Toggle).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let versions: Vec<u64> = store
        .load("users", "alice", 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, (1..=1 + 2 * writers).collect::<Vec<u64>>());
}

/// Concurrent commands on distinct aggregates never conflict and all land.
pub async fn concurrent_commands_on_distinct_aggregates<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let users = domain.commands(UserCommands::default());
        tasks.push(tokio::spawn(async move {
            let id = format!("user-{writer}");
            users.execute(&id, &create_user(&id)).await?;
            users.execute(&id, &UserCommand::Toggle).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().version, 3);
    }
    let all = store.read(&["users"], Cursor::START, 100).await.unwrap();
    assert_eq!(all.len(), 24);
    assert!(all.windows(2).all(|pair| pair[0].cursor < pair[1].cursor));
}

/// A command set whose every decision lets another writer append first, so that every append
/// conflicts.
struct AlwaysOvertaken<S> {
    other_writer: Domain<S>,
    decisions: std::sync::atomic::AtomicU32,
}

impl<S: Store> evtstore::CommandSet for AlwaysOvertaken<S> {
    type Aggregate = UserEvent;
    type Command = ();

    async fn decide(
        &self,
        user: &evtstore::Agg<crate::domain::User>,
        (): &(),
    ) -> evtstore::CommandResult<UserEvent> {
        self.decisions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let other = self.other_writer.commands(UserCommands::default());
        other
            .execute(&user.aggregate_id, &UserCommand::Toggle)
            .await
            .unwrap();
        Ok(UserEvent::Disabled.into())
    }
}

/// A command is decided once plus once per configured retry, then the conflict reaches the
/// caller; none of its events is appended.
pub async fn retries_stop_after_configured_count<S: Store>(store: S) {
    let options = DomainOptions {
        retries: 2,
        ..DomainOptions::default()
    };
    let domain = Domain::with_options(store.clone(), options);
    domain
        .commands(UserCommands::default())
        .execute("alice", &create_user("A"))
        .await
        .unwrap();
    let overtaken = domain.commands(AlwaysOvertaken {
        other_writer: fresh_domain(&domain),
        decisions: std::sync::atomic::AtomicU32::new(0),
    });
    let error = overtaken.execute("alice", &()).await.unwrap_err();
    assert!(error.is_version_conflict(), "{error:?}");
    let decisions = overtaken
        .command_set()
        .decisions
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(decisions, 3);
    let history = fresh_domain(&domain)
        .history::<UserEvent>("alice")
        .await
        .unwrap();
    // The creation and three toggles of two events each; no event of the overtaken command.
    assert_eq!(history.len(), 7);
    assert_eq!(history.last().unwrap().event, UserEvent::Enabled);
}
