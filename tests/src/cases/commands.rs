//! Commands: versions, events appended, refusals, independence of aggregates.

use crate::ReadEvents;
use evtstore::{Domain, Error, Metadata, Store};

use crate::domain::{
    PostCommand, PostCommands, PostCommandsExt, PostEvent, UserCommand, UserCommands, UserEvent,
};
use crate::{create_user, fresh_domain};

/// A command returns the new aggregate with version 1; a second one, version 2.
pub async fn command_returns_new_aggregate_and_version<S: Store>(store: S) {
    let users = Domain::new(store).commands(UserCommands::default());
    let alice = users.execute("alice", &create_user("Alice")).await.unwrap();
    assert_eq!(alice.version, 1);
    assert_eq!(alice.aggregate_id, "alice");
    assert_eq!(alice.name, "Alice");
    assert!(alice.enabled);
    let alice = users.execute("alice", &UserCommand::Disable).await.unwrap();
    assert_eq!(alice.version, 2);
    assert!(!alice.enabled);
}

/// A command returning two events advances the version by two and folds both.
pub async fn two_event_command_advances_version_by_two<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    users.execute("alice", &create_user("Alice")).await.unwrap();
    let alice = users.execute("alice", &UserCommand::Toggle).await.unwrap();
    assert_eq!(alice.version, 3);
    assert!(alice.enabled);
    let history = fresh_domain(&domain)
        .history::<UserEvent>("alice")
        .await
        .unwrap();
    let versions: Vec<u64> = history.iter().map(|r| r.meta.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(history[1].event, UserEvent::Disabled);
    assert_eq!(history[2].event, UserEvent::Enabled);
}

/// An unknown id loads as version 0 with the default state.
pub async fn unknown_id_is_version_zero_with_default_state<S: Store>(store: S) {
    let domain = Domain::new(store);
    let nobody = domain.load::<UserEvent>("nobody").await.unwrap();
    assert_eq!(nobody.version, 0);
    assert_eq!(nobody.aggregate_id, "nobody");
    assert_eq!(nobody.state, Default::default());
    assert!(!nobody.exists());
    assert!(
        domain
            .history::<UserEvent>("nobody")
            .await
            .unwrap()
            .is_empty()
    );
}

/// The command sees the aggregate's current version when it decides.
pub async fn command_sees_current_version<S: Store>(store: S) {
    let users = Domain::new(store).commands(UserCommands::default());
    users.execute("alice", &create_user("Alice")).await.unwrap();
    users.execute("alice", &UserCommand::Toggle).await.unwrap();
    users.execute("alice", &UserCommand::Observe).await.unwrap();
    let seen = users.command_set().seen_versions.lock().unwrap().clone();
    assert_eq!(seen, [0, 1, 3]);
}

/// A command's own refusal reaches the caller as `Error::Command` and appends nothing.
pub async fn refused_command_appends_nothing<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    users.execute("alice", &create_user("Alice")).await.unwrap();
    let error = users
        .execute("alice", &create_user("Again"))
        .await
        .unwrap_err();
    match &error {
        Error::Command {
            stream,
            aggregate_id,
            source,
        } => {
            assert_eq!((stream.as_str(), aggregate_id.as_str()), ("users", "alice"));
            assert_eq!(source.code.as_deref(), Some("exists"));
        }
        other => panic!("expected a command error, got {other:?}"),
    }
    assert!(error.to_string().contains("users/alice"), "{error}");
    let alice = fresh_domain(&domain)
        .load::<UserEvent>("alice")
        .await
        .unwrap();
    assert_eq!((alice.version, alice.name.as_str()), (1, "Alice"));
}

/// A command that decides on no event appends nothing and returns the aggregate as it was.
pub async fn empty_command_result_appends_nothing<S: Store>(store: S) {
    let domain = Domain::new(store.clone());
    let users = domain.commands(UserCommands::default());
    let created = users.execute("alice", &create_user("Alice")).await.unwrap();
    let unchanged = users.execute("alice", &UserCommand::Noop).await.unwrap();
    assert_eq!(unchanged, created);
    assert_eq!(store.load("users", "alice", 0).await.unwrap().len(), 1);
    assert_eq!(
        store
            .read_events(&["users"], evtstore::Cursor::START, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Two aggregates of one stream never see each other's events.
pub async fn aggregates_of_one_stream_are_independent<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    users.execute("alice", &create_user("Alice")).await.unwrap();
    users.execute("alice", &UserCommand::Disable).await.unwrap();
    let bob = users.execute("bob", &create_user("Bob")).await.unwrap();
    assert_eq!(
        (bob.version, bob.name.as_str(), bob.enabled),
        (1, "Bob", true)
    );
    let fresh = fresh_domain(&domain);
    let alice = fresh.load::<UserEvent>("alice").await.unwrap();
    assert_eq!((alice.version, alice.enabled), (2, false));
    assert_eq!(fresh.history::<UserEvent>("bob").await.unwrap().len(), 1);
}

/// The same aggregate id in two streams names two different aggregates.
pub async fn same_id_in_two_streams_is_independent<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });
    users.execute("x", &create_user("X")).await.unwrap();
    let post = posts
        .execute(
            "x",
            &PostCommand::CreatePost {
                user_id: "x".into(),
                content: "hi".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(post.version, 1);
    let fresh = fresh_domain(&domain);
    assert_eq!(fresh.load::<UserEvent>("x").await.unwrap().version, 1);
    assert_eq!(fresh.history::<PostEvent>("x").await.unwrap().len(), 1);
}

/// A command can consult another aggregate through the domain it carries (the seed's
/// `createPost` checks that the user exists), and its rules hold.
pub async fn command_checks_another_aggregate<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });
    let create = |user: &str| PostCommand::CreatePost {
        user_id: user.into(),
        content: "hello".into(),
    };
    let refused = posts.execute("post-1", &create("alice")).await.unwrap_err();
    assert!(matches!(refused, Error::Command { .. }), "{refused:?}");
    assert_eq!(refused.kind(), evtstore::ErrorKind::Refused);
    users.execute("alice", &create_user("Alice")).await.unwrap();
    let post = posts.execute("post-1", &create("alice")).await.unwrap();
    assert_eq!((post.version, post.user_id.as_str()), (1, "alice"));
    let not_author = PostCommand::ArchivePost {
        user_id: "bob".into(),
    };
    assert!(matches!(
        posts.execute("post-1", &not_author).await,
        Err(Error::Command { .. })
    ));
    let archive = PostCommand::ArchivePost {
        user_id: "alice".into(),
    };
    let archived = posts.execute("post-1", &archive).await.unwrap();
    assert_eq!((archived.version, archived.archived), (2, true));
    // Archiving twice decides on nothing.
    assert_eq!(posts.execute("post-1", &archive).await.unwrap().version, 2);
}

/// The history lists an aggregate's events in version order with their metadata, and
/// positions grow across streams.
pub async fn history_carries_event_metadata<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    let before = evtstore::Timestamp::now().as_millis();
    users.execute("alice", &create_user("Alice")).await.unwrap();
    users.execute("bob", &create_user("Bob")).await.unwrap();
    users.execute("alice", &UserCommand::Disable).await.unwrap();
    let after = evtstore::Timestamp::now().as_millis();
    let history = domain.history::<UserEvent>("alice").await.unwrap();
    assert_eq!(history.len(), 2);
    for (recorded, version) in history.iter().zip(1..) {
        assert_eq!(recorded.meta.stream, "users");
        assert_eq!(recorded.meta.aggregate_id, "alice");
        assert_eq!(recorded.meta.version, version);
        let millis = recorded.meta.timestamp.as_millis();
        // Some databases keep whole seconds or round; allow one second either side.
        assert!(
            millis >= before - 1000 && millis <= after + 1000,
            "{millis} not in {before}..{after}"
        );
    }
    assert!(history[0].meta.position() > 0);
    assert!(history[1].meta.position() > history[0].meta.position());
}

/// Metadata given with a command is stored with each of its events.
pub async fn command_metadata_is_stored<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    let metadata = Metadata {
        correlation_id: Some("request-7".into()),
        causation_id: Some("command-3".into()),
        user: Some("admin".into()),
        command_id: None,
        extra: [
            ("tenant".to_owned(), serde_json::json!("acme")),
            ("attempt".to_owned(), serde_json::json!(2)),
        ]
        .into(),
    };
    users
        .execute_with("alice", &create_user("Alice"), &metadata)
        .await
        .unwrap();
    users
        .execute_with("alice", &UserCommand::Toggle, &metadata)
        .await
        .unwrap();
    users.execute("alice", &UserCommand::Disable).await.unwrap();
    let history = domain.history::<UserEvent>("alice").await.unwrap();
    let stored: Vec<&Metadata> = history.iter().map(|r| &r.meta.metadata).collect();
    assert_eq!(
        stored,
        [&metadata, &metadata, &metadata, &Metadata::default()]
    );
}

/// A command method taking `&Metadata` decides from the call's metadata (who acts), through
/// `with_metadata` and the typed entry point as through `execute_with`; the metadata is stored
/// with the events it appends.
pub async fn command_decides_from_metadata<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });
    users.execute("alice", &create_user("Alice")).await.unwrap();
    let create = PostCommand::CreatePost {
        user_id: "alice".into(),
        content: "hello".into(),
    };
    posts.execute("post-1", &create).await.unwrap();
    let acting = |user: &str| Metadata {
        user: Some(user.into()),
        correlation_id: Some(format!("request-of-{user}")),
        ..Metadata::default()
    };
    // Nobody acting, and someone else acting: refused, nothing appended.
    let refused = posts.archive_as_actor("post-1").await.unwrap_err();
    assert_eq!(refused.kind(), evtstore::ErrorKind::Refused, "{refused:?}");
    let refused = posts
        .execute_with("post-1", &PostCommand::ArchiveAsActor, &acting("bob"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), evtstore::ErrorKind::Refused, "{refused:?}");
    assert_eq!(posts.load("post-1").await.unwrap().version, 1);
    // The author acting, through the typed entry point of commands carrying metadata.
    let archived = posts
        .with_metadata(acting("alice"))
        .archive_as_actor("post-1")
        .await
        .unwrap();
    assert_eq!((archived.version, archived.archived), (2, true));
    let history = domain.history::<PostEvent>("post-1").await.unwrap();
    assert_eq!(history[1].meta.metadata, acting("alice"));
    assert_eq!(history[0].meta.metadata, Metadata::default());
}

/// A command with an id runs once per aggregate: executed again with the same id (a retry
/// after a lost response, from this process or another), it appends nothing and returns the
/// aggregate as the first execution left it, even after later commands; another id, or the
/// same id on another aggregate, runs.
pub async fn retried_command_with_id_appends_once<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    users.execute("alice", &create_user("Alice")).await.unwrap();
    let once = |id: &str| Metadata {
        command_id: Some(id.to_owned()),
        ..Metadata::default()
    };
    let first = users
        .execute_with("alice", &UserCommand::Toggle, &once("toggle-1"))
        .await
        .unwrap();
    users.execute("alice", &UserCommand::Disable).await.unwrap();
    for retry in [
        &users,
        &fresh_domain(&domain).commands(UserCommands::default()),
    ] {
        let again = retry
            .execute_with("alice", &UserCommand::Toggle, &once("toggle-1"))
            .await
            .unwrap();
        assert_eq!(
            (again.version, again.enabled),
            (first.version, first.enabled)
        );
    }
    let history = domain.history::<UserEvent>("alice").await.unwrap();
    assert_eq!(
        history.len() as u64,
        first.version + 1,
        "nothing appended again"
    );
    let other = users
        .execute_with("alice", &UserCommand::Toggle, &once("toggle-2"))
        .await
        .unwrap();
    assert_eq!(other.version, first.version + 3);
    users.execute("bob", &create_user("Bob")).await.unwrap();
    let bob = users
        .execute_with("bob", &UserCommand::Toggle, &once("toggle-1"))
        .await
        .unwrap();
    assert_eq!(bob.version, 3);
    // The same id twice at once, through domains that share no cache: one appends, the other
    // loses the version race and then finds the winner's events.
    users.execute("carol", &create_user("Carol")).await.unwrap();
    let elsewhere = fresh_domain(&domain).commands(UserCommands::default());
    let toggle_c = once("toggle-c");
    let (here, there) = tokio::join!(
        users.execute_with("carol", &UserCommand::Toggle, &toggle_c),
        elsewhere.execute_with("carol", &UserCommand::Toggle, &toggle_c),
    );
    assert_eq!((here.unwrap().version, there.unwrap().version), (3, 3));
    let carol = domain.history::<UserEvent>("carol").await.unwrap();
    assert_eq!(carol.len(), 3, "appended once");
}

/// Loading folds every event, also in a process that has never seen the aggregate.
pub async fn load_folds_all_events<S: Store>(store: S) {
    let domain = Domain::new(store);
    let users = domain.commands(UserCommands::default());
    users.execute("alice", &create_user("Alice")).await.unwrap();
    for _ in 0..5 {
        users.execute("alice", &UserCommand::Toggle).await.unwrap();
    }
    users.execute("alice", &UserCommand::Disable).await.unwrap();
    let alice = fresh_domain(&domain)
        .load::<UserEvent>("alice")
        .await
        .unwrap();
    assert_eq!(
        (alice.version, alice.enabled, alice.name.as_str()),
        (12, false, "Alice")
    );
}
