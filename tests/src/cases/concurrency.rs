//! Optimistic concurrency: conflicting appends, retries, concurrent commands.

use crate::ReadEvents;
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
            .read_events(&["users"], Cursor::START, 10)
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
    assert_eq!(error.kind(), evtstore::ErrorKind::Conflict);
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
    let all = store
        .read_events(&["users"], Cursor::START, 100)
        .await
        .unwrap();
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

/// A domain with its cache on, over the store another domain writes to: what a second process
/// sees.
fn cached_domain<S: Store>(store: &S) -> Domain<S> {
    let options = DomainOptions {
        cache_capacity: 100,
        ..DomainOptions::default()
    };
    Domain::with_options(store.clone(), options)
}

/// A command refused on a cached aggregate that another process has changed since is decided
/// again on the current state: a user created elsewhere is not refused as missing.
pub async fn refusal_on_stale_cache_sees_other_writers<S: Store>(store: S) {
    let here = cached_domain(&store).commands(UserCommands::default());
    let elsewhere = cached_domain(&store).commands(UserCommands::default());
    // `here` caches bob as missing (version 0) while refusing to disable him.
    let refused = here
        .execute("bob", &UserCommand::Disable)
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Command { .. }), "{refused:?}");
    elsewhere.execute("bob", &create_user("Bob")).await.unwrap();

    let bob = here.execute("bob", &UserCommand::Disable).await.unwrap();
    assert_eq!(
        (bob.version, bob.name.as_str(), bob.enabled),
        (2, "Bob", false)
    );
    // Decided on the cached version 0 first, then again on the version 1 read from the store.
    assert_eq!(*here.command_set().seen_versions.lock().unwrap(), [0, 0, 1]);

    // The other way round: a refusal the current state calls for is not lost to a stale entry
    // that would accept. `here` caches carol as missing; once she exists, creating her again
    // is refused, through the conflict of the append the stale entry led to.
    let here = here.domain().commands(UserCommands::default());
    let refused = here
        .execute("carol", &UserCommand::Disable)
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Command { .. }), "{refused:?}");
    elsewhere
        .execute("carol", &create_user("Carol"))
        .await
        .unwrap();
    for _ in 0..2 {
        match here.execute("carol", &create_user("Carol")).await {
            Err(Error::Command { source, .. }) => {
                assert_eq!(source.code.as_deref(), Some("exists"))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    // The second refusal was taken on the cache entry, found current: one decision.
    assert_eq!(
        *here.command_set().seen_versions.lock().unwrap(),
        [0, 0, 1, 1]
    );
}

/// A command that decides on no event, taken on a cached aggregate another process has changed
/// since, returns the current aggregate, not the cached one.
pub async fn no_op_on_stale_cache_returns_current_state<S: Store>(store: S) {
    let here = cached_domain(&store).commands(UserCommands::default());
    let elsewhere = cached_domain(&store).commands(UserCommands::default());
    let alice = here.execute("alice", &create_user("Alice")).await.unwrap();
    assert!(alice.enabled);
    elsewhere
        .execute("alice", &UserCommand::Disable)
        .await
        .unwrap();

    let alice = here.execute("alice", &UserCommand::Noop).await.unwrap();
    assert_eq!((alice.version, alice.enabled), (2, false));
    // The cache holds the current state now: the next no-op is decided once, on version 2.
    here.execute("alice", &UserCommand::Noop).await.unwrap();
    assert_eq!(
        *here.command_set().seen_versions.lock().unwrap(),
        [0, 1, 2, 2]
    );
    assert_eq!(store.load("users", "alice", 0).await.unwrap().len(), 2);
}

/// Writers contending for one aggregate from separate domains (separate processes, each with
/// its cache) all land with the default options: the retries and their back-off absorb the
/// conflicts.
pub async fn contended_commands_land_with_default_options<S: Store>(store: S) {
    let writers = 8;
    let commands_per_writer = 5;
    Domain::new(store.clone())
        .commands(UserCommands::default())
        .execute("alice", &create_user("Alice"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let users = Domain::new(store.clone()).commands(UserCommands::default());
        tasks.push(tokio::spawn(async move {
            for _ in 0..commands_per_writer {
                users.execute("alice", &UserCommand::Toggle).await?;
            }
            Ok::<_, Error>(())
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
    let events = 1 + 2 * writers * commands_per_writer;
    assert_eq!(versions, (1..=events).collect::<Vec<u64>>());
}
