//! Every route and every error status of the service, over real HTTP against the running
//! binary, on SQLite, PostgreSQL and MariaDB.

mod common;

use std::time::Duration;

use common::{Api, Backend, Reply, Server, caught_up, drop_database, fresh_database, handlers};
use evtstore::{Append, Domain, Metadata, NewEvent, Store, Timestamp};
use serde_json::Value;
use service::domain::{PostEvent, UserCommand, UserCommands};

const ALICE: &[(&str, &str)] = &[("x-user", "alice")];

async fn create_post(api: &Api, id: &str, user: &str, content: &str) -> Reply {
    let body = serde_json::json!({ "type": "createPost", "content": content }).to_string();
    api.post(
        &format!("/posts/{id}?wait_for=posts"),
        &[("x-user", user)],
        &body,
    )
    .await
}

fn post_ids(reply: &Reply) -> Vec<String> {
    reply.body["posts"]
        .as_array()
        .unwrap_or_else(|| panic!("a page of posts: {reply:?}"))
        .iter()
        .map(|post| post["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn every_route_and_status(backend: Backend) {
    let (url, database) = fresh_database(backend).await;
    let server = Server::start(&format!("{backend:?}"), &[("DATABASE_URL", &url)], None);
    let api = Api::new(&server);

    // Commands: created, then refused by the rules (422).
    let created = api
        .post("/users/alice", &[], r#"{"type":"create","name":"Alice"}"#)
        .await;
    assert_eq!(created.status, 200, "{created:?}");
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["state"]["name"], "Alice");
    let again = api
        .post("/users/alice", &[], r#"{"type":"create","name":"Alice"}"#)
        .await;
    assert_eq!((again.status, again.error()), (422, "refused"), "{again:?}");
    assert_eq!(again.message(), "user already exists");

    // Bad JSON (400), an unknown command type (404, listing the known), wrong fields (400).
    let bad = api.post("/users/bob", &[], "{not json").await;
    assert_eq!((bad.status, bad.error()), (400, "bad_json"), "{bad:?}");
    let unknown = api.post("/users/bob", &[], r#"{"type":"fly"}"#).await;
    assert_eq!((unknown.status, unknown.error()), (404, "unknown_command"));
    assert!(
        unknown.message().contains("create, disable, enable"),
        "{unknown:?}"
    );
    let missing = api.post("/users/bob", &[], r#"{"type":"create"}"#).await;
    assert_eq!((missing.status, missing.error()), (400, "bad_json"));
    assert!(missing.message().contains("name"), "{missing:?}");
    // An id longer than the store keeps: bad input, nothing written.
    let long_id = "x".repeat(300);
    let too_long = api
        .post(
            &format!("/users/{long_id}"),
            &[],
            r#"{"type":"create","name":"X"}"#,
        )
        .await;
    assert_eq!(
        (too_long.status, too_long.error()),
        (400, "bad_input"),
        "{too_long:?}"
    );

    // Read-your-writes: the response waits for the `posts` read model, so the list that
    // follows has the post.
    let post = create_post(&api, "p1", "alice", "Hello").await;
    assert_eq!(post.status, 200, "{post:?}");
    assert_eq!(post.body["readModel"]["name"], "posts");
    assert_eq!(post.body["readModel"]["caughtUp"], true, "{post:?}");
    assert_eq!(post_ids(&api.get("/posts").await), ["p1"]);
    let stats = api
        .post(
            "/posts/p2?wait_for=user-stats",
            ALICE,
            r#"{"type":"createPost","content":"Two"}"#,
        )
        .await;
    assert_eq!(stats.body["readModel"]["caughtUp"], true, "{stats:?}");
    let alice = api.get("/users/alice").await;
    assert_eq!(alice.status, 200);
    assert_eq!(
        (alice.body["name"].clone(), alice.body["posts"].clone()),
        (Value::from("Alice"), Value::from(2))
    );

    // The acting user comes from X-User and decides: nobody signed in, or not the author.
    let anonymous = api
        .post("/posts/p9", &[], r#"{"type":"createPost","content":"Hi"}"#)
        .await;
    assert_eq!(
        (anonymous.status, anonymous.message()),
        (422, "only a signed-in user may post")
    );
    let not_author = api
        .post(
            "/posts/p1",
            &[("x-user", "bob")],
            r#"{"type":"archivePost"}"#,
        )
        .await;
    assert_eq!(
        (not_author.status, not_author.message()),
        (422, "only the author may archive a post")
    );

    // The metadata is stored with the events.
    let correlated = api
        .post(
            "/posts/p3",
            &[("x-user", "alice"), ("x-correlation-id", "req-7")],
            r#"{"type":"createPost","content":"Three"}"#,
        )
        .await;
    assert_eq!(correlated.status, 200);
    let store = evtstore_sqlx::connect(&url).await.unwrap();
    let history = Domain::new(store.clone())
        .history::<PostEvent>("p3")
        .await
        .unwrap();
    let metadata = &history[0].meta.metadata;
    assert_eq!(
        (metadata.user.as_deref(), metadata.correlation_id.as_deref()),
        (Some("alice"), Some("req-7"))
    );

    // An idempotency key makes a retried request a no-op that answers as the first did.
    let key = &[("x-user", "alice"), ("idempotency-key", "k-1")];
    let first = api
        .post(
            "/posts/p4",
            key,
            r#"{"type":"createPost","content":"Four"}"#,
        )
        .await;
    let retried = api
        .post(
            "/posts/p4",
            key,
            r#"{"type":"createPost","content":"Four"}"#,
        )
        .await;
    assert_eq!((first.status, retried.status), (200, 200), "{retried:?}");
    assert_eq!(
        (
            first.body["version"].clone(),
            retried.body["version"].clone()
        ),
        (1.into(), 1.into())
    );
    // The same key for another command on the same aggregate: refused, nothing appended.
    let reused = api
        .post("/posts/p4", key, r#"{"type":"archivePost"}"#)
        .await;
    assert_eq!(
        (reused.status, reused.error()),
        (422, "idempotency_key_reused"),
        "{reused:?}"
    );
    let without_key = api
        .post(
            "/posts/p4",
            ALICE,
            r#"{"type":"createPost","content":"Four"}"#,
        )
        .await;
    assert_eq!(without_key.message(), "post already exists");

    // Another user; paging newest first, per user.
    api.post("/users/bob", &[], r#"{"type":"create","name":"Bob"}"#)
        .await;
    assert_eq!(create_post(&api, "p5", "bob", "Bob's").await.status, 200);
    assert_eq!(create_post(&api, "p6", "alice", "Six").await.status, 200);
    let mut seen = Vec::new();
    let mut path = "/posts?limit=2".to_owned();
    loop {
        let page = api.get(&path).await;
        assert_eq!(page.status, 200, "{page:?}");
        let ids = post_ids(&page);
        assert!(ids.len() <= 2);
        seen.extend(ids);
        match page.body["next"].as_i64() {
            Some(before) => path = format!("/posts?limit=2&before={before}"),
            None => break,
        }
    }
    assert_eq!(seen, ["p6", "p5", "p4", "p3", "p2", "p1"]);
    assert_eq!(post_ids(&api.get("/users/bob/posts").await), ["p5"]);
    let alices = api.get("/users/alice/posts?limit=100").await;
    assert_eq!(post_ids(&alices), ["p6", "p4", "p3", "p2", "p1"]);
    assert_eq!(alices.body["posts"][4]["author"], "Alice");

    // Archived posts leave the lists (and still count as written).
    let archived = api
        .post(
            "/posts/p1?wait_for=posts",
            ALICE,
            r#"{"type":"archivePost"}"#,
        )
        .await;
    assert_eq!(archived.status, 200, "{archived:?}");
    assert_eq!(archived.body["state"]["archived"], true);
    assert_eq!(
        post_ids(&api.get("/users/alice/posts").await),
        ["p6", "p4", "p3", "p2"]
    );

    // Only the user disables their account; a disabled user cannot post.
    let by_bob = api
        .post(
            "/users/alice",
            &[("x-user", "bob")],
            r#"{"type":"disable"}"#,
        )
        .await;
    assert_eq!(by_bob.status, 422, "{by_bob:?}");
    let disabled = api
        .post(
            "/users/alice?wait_for=user-stats",
            ALICE,
            r#"{"type":"disable"}"#,
        )
        .await;
    assert_eq!(disabled.body["state"]["enabled"], false, "{disabled:?}");
    assert_eq!(
        create_post(&api, "p7", "alice", "No").await.message(),
        "unauthorized"
    );
    let alice = api.get("/users/alice").await;
    assert_eq!(
        (alice.body["enabled"].clone(), alice.body["posts"].clone()),
        (false.into(), 5.into())
    );

    // Not found, bad parameters.
    let nobody = api.get("/users/nobody").await;
    assert_eq!((nobody.status, nobody.error()), (404, "not_found"));
    assert_eq!(api.get("/nope").await.status, 404);
    for path in [
        "/posts?limit=0",
        "/posts?limit=101",
        "/posts?limit=many",
        "/posts?before=x",
    ] {
        let reply = api.get(path).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "bad_request"),
            "{path}: {reply:?}"
        );
    }
    let unknown_model = api
        .post(
            "/users/carol?wait_for=nope",
            &[],
            r#"{"type":"create","name":"C"}"#,
        )
        .await;
    assert_eq!(
        (unknown_model.status, unknown_model.error()),
        (400, "bad_request")
    );
    assert!(
        unknown_model.message().contains("posts, user-stats"),
        "{unknown_model:?}"
    );
    let wrong_stream = api
        .post(
            "/users/carol?wait_for=posts",
            &[],
            r#"{"type":"create","name":"C"}"#,
        )
        .await;
    assert_eq!(wrong_stream.status, 400, "{wrong_stream:?}");
    // Neither executed the command.
    assert_eq!(api.get("/users/carol").await.status, 404);
    let users = Domain::new(store).commands(UserCommands);
    assert_eq!(users.load("carol").await.unwrap().version, 0);

    // Health: both projections, caught up, run by this process.
    let health = api
        .health_until(Duration::from_secs(10), "caught up", caught_up)
        .await;
    assert_eq!(health["status"], "ok");
    let names: Vec<Value> = handlers(&health)
        .iter()
        .map(|h| h["name"].clone())
        .collect();
    assert_eq!(names, [Value::from("posts"), Value::from("user-stats")]);
    for handler in handlers(&health) {
        assert_eq!(handler["runsHere"], true, "{handler}");
        assert_eq!(handler["position"], handler["lastPosition"], "{handler}");
    }

    // Every error is JSON, the ones axum's routing and extractors make included.
    let wrong_method = api.get("/posts/p1").await;
    assert_eq!(
        (wrong_method.status, wrong_method.error()),
        (405, "method_not_allowed")
    );
    let huge = format!(
        r#"{{"type":"createPost","content":"{}"}}"#,
        "x".repeat(3 << 20)
    );
    let too_large = api.post("/posts/huge", ALICE, &huge).await;
    assert_eq!((too_large.status, too_large.error()), (413, "too_large"));

    // 500: a stored event this code cannot read (written by another program) fails the
    // command without saying more than that; the log has the cause. The `user-stats`
    // projection stops at it, and `/health` says so.
    plant_unknown_event(&url, "mallory").await;
    let broken = api
        .post(
            "/users/mallory",
            &[("x-user", "mallory")],
            r#"{"type":"disable"}"#,
        )
        .await;
    assert_eq!(
        (broken.status, broken.error()),
        (500, "internal"),
        "{broken:?}"
    );
    assert!(
        !broken.message().contains("renamed"),
        "no details leak: {broken:?}"
    );
    let health = api
        .health_until(
            Duration::from_secs(10),
            "the stuck projection reported",
            |h| h["status"] == "degraded",
        )
        .await;
    let stuck: Vec<Value> = handlers(&health)
        .into_iter()
        .filter(|handler| handler["lastError"].is_string())
        .collect();
    assert_eq!(stuck.len(), 1, "{health}");
    assert_eq!(stuck[0]["name"], "user-stats");
    assert!(
        stuck[0]["lastError"].as_str().unwrap().contains("renamed"),
        "{health}"
    );

    drop(server);
    drop_database(backend, &database).await;
}

/// Appends, bypassing the domain, a `users` event of a type the code does not know.
async fn plant_unknown_event(url: &str, user: &str) {
    let store = evtstore_sqlx::connect(url).await.unwrap();
    let events = [NewEvent {
        version: 1,
        event_type: "renamed",
        event: r#"{"type":"renamed","name":"M"}"#.to_owned(),
    }];
    store
        .append(Append {
            stream: "users",
            aggregate_id: user,
            events: &events,
            timestamp: Timestamp::now(),
            metadata: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn every_route_and_status_on_sqlite() {
    every_route_and_status(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_route_and_status_on_postgres() {
    every_route_and_status(Backend::Postgres).await;
}

#[tokio::test]
async fn every_route_and_status_on_mariadb() {
    every_route_and_status(Backend::MySql).await;
}

/// 409: another writer won every retry. The service runs with no retries; the test appends
/// to alice behind its back, so the service's cached alice is one version behind and its
/// append conflicts.
#[tokio::test]
async fn a_conflict_after_the_retries_is_409() {
    let (url, database) = fresh_database(Backend::Sqlite).await;
    let server = Server::start(
        "no-retries",
        &[("DATABASE_URL", &url), ("COMMAND_RETRIES", "0")],
        None,
    );
    let api = Api::new(&server);
    let created = api
        .post("/users/alice", &[], r#"{"type":"create","name":"Alice"}"#)
        .await;
    assert_eq!(created.status, 200);
    let acting = Metadata {
        user: Some("alice".into()),
        ..Metadata::default()
    };
    let elsewhere = Domain::new(evtstore_sqlx::connect(&url).await.unwrap()).commands(UserCommands);
    elsewhere
        .execute_with("alice", &UserCommand::Disable, &acting)
        .await
        .unwrap();
    let conflict = api
        .post("/users/alice", ALICE, r#"{"type":"disable"}"#)
        .await;
    assert_eq!(
        (conflict.status, conflict.error()),
        (409, "conflict"),
        "{conflict:?}"
    );
    // Decided again on the current state, it has nothing to do.
    let after = api
        .post("/users/alice", ALICE, r#"{"type":"disable"}"#)
        .await;
    assert_eq!(
        (after.status, after.body["version"].clone()),
        (200, 2.into()),
        "{after:?}"
    );
    drop(server);
    drop_database(Backend::Sqlite, &database).await;
}

/// `cargo run -p service` on a fresh machine: no `DATABASE_URL`, so a SQLite file in the
/// working directory, created and migrated.
#[tokio::test]
async fn runs_with_no_database_set_up() {
    let (_, name) = fresh_database(Backend::Sqlite).await;
    let dir = std::env::temp_dir().join(&name);
    let server = Server::start("default", &[], Some(&dir));
    let api = Api::new(&server);
    let created = api
        .post("/users/alice", &[], r#"{"type":"create","name":"Alice"}"#)
        .await;
    assert_eq!(created.status, 200, "{created:?}");
    assert!(dir.join("service.db").exists(), "the default database file");
    assert_eq!(api.get("/health").await.status, 200);
    drop(server);
    drop_database(Backend::Sqlite, &name).await;
}
