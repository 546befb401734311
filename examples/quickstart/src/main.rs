//! The users/posts domain of the evtstore README, end to end: users and posts as aggregates,
//! commands that check each other, and a read model of posts kept by an event handler over
//! both streams.
//!
//! ```sh
//! cargo run -p quickstart                                   # SQLite, in ./quickstart.db
//! cargo run -p quickstart -- postgres://postgres@127.0.0.1/test
//! DATABASE_URL=mysql://root@127.0.0.1/test cargo run -p quickstart
//! ```
//!
//! Every run adds to the same database: users are created once, each run writes new posts.

use std::collections::BTreeMap;
use std::sync::Mutex;

use evtstore::prelude::*;
use evtstore::{Error, Timestamp};
use serde::{Deserialize, Serialize};

/// Events of the `users` stream, stored as `{"type":"created","name":..}` and so on.
#[derive(Aggregate, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type", rename_all = "camelCase")]
enum UserEvent {
    Created { name: String },
    Disabled,
    Enabled,
}

#[derive(Clone, Debug, Default)]
struct User {
    name: String,
    enabled: bool,
}

/// Folding applies what happened; the rules live in the commands.
impl UserEventFold for User {
    fn created(&mut self, name: &String) {
        self.name.clone_from(name);
        self.enabled = true;
    }
    fn disabled(&mut self) {
        self.enabled = false;
    }
    fn enabled(&mut self) {
        self.enabled = true;
    }
}

struct UserCommands;

#[command(UserEvent)]
impl UserCommands {
    async fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
        if user.exists() {
            return Err(CommandError::new("user already exists"));
        }
        Ok(UserEvent::Created { name }.into())
    }

    async fn disable(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
        Ok(user.enabled.then_some(UserEvent::Disabled).into())
    }

    async fn enable(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
        Ok((user.exists() && !user.enabled)
            .then_some(UserEvent::Enabled)
            .into())
    }
}

/// Events of the `posts` stream, stored exactly as the TypeScript evtstore's example stores them
/// (`{"type":"postCreated","content":..,"userId":..}`), so that both libraries can share the
/// database; the post's state is kept as a snapshot tagged `v1`.
#[derive(Aggregate, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[aggregate(stream = "posts", state = Post, persist = "v1")]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
enum PostEvent {
    PostCreated { content: String, user_id: String },
    PostArchived,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Post {
    user_id: String,
    archived: bool,
}

impl PostEventFold for Post {
    fn post_created(&mut self, _content: &String, user_id: &String) {
        self.user_id.clone_from(user_id);
    }
    fn post_archived(&mut self) {
        self.archived = true;
    }
}

/// Post commands carry the domain, to check that the author exists.
struct PostCommands<S> {
    domain: Domain<S>,
}

#[command(PostEvent)]
impl<S: Store> PostCommands<S> {
    async fn create_post(
        &self,
        post: &Agg<Post>,
        user_id: String,
        content: String,
    ) -> CommandResult<PostEvent> {
        if post.exists() {
            return Err(CommandError::new("post already exists"));
        }
        // `?`: a store that fails here fails the command with its own error, not a refusal.
        let author = self.domain.load::<UserEvent>(&user_id).await?;
        if !(author.exists() && author.enabled) {
            return Err(CommandError::new("unauthorized"));
        }
        Ok(PostEvent::PostCreated { content, user_id }.into())
    }

    async fn archive_post(&self, post: &Agg<Post>, user_id: String) -> CommandResult<PostEvent> {
        if user_id != post.user_id {
            return Err(CommandError::new("not allowed"));
        }
        Ok((!post.archived).then_some(PostEvent::PostArchived).into())
    }
}

/// A read model: every live post with its author's name, as a query side would keep it.
#[derive(Debug, Default)]
struct PostsModel {
    authors: Mutex<BTreeMap<String, String>>,
    posts: Mutex<BTreeMap<String, String>>,
}

impl UserEventHandler for PostsModel {
    async fn created(&self, id: &str, name: &String, _meta: &EventMeta) -> HandlerResult {
        self.authors
            .lock()
            .unwrap()
            .insert(id.to_owned(), name.clone());
        Ok(())
    }
}

impl PostEventHandler for PostsModel {
    async fn post_created(
        &self,
        id: &str,
        content: &String,
        user_id: &String,
        _meta: &EventMeta,
    ) -> HandlerResult {
        let author = self.authors.lock().unwrap().get(user_id).cloned();
        let author = author.unwrap_or_else(|| user_id.clone());
        self.posts
            .lock()
            .unwrap()
            .insert(id.to_owned(), format!("{content:?} by {author}"));
        Ok(())
    }

    async fn post_archived(&self, id: &str, _meta: &EventMeta) -> HandlerResult {
        self.posts.lock().unwrap().remove(id);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| "sqlite://quickstart.db?mode=rwc".to_owned());
    let store = evtstore_sqlx::connect(&url).await?;
    store.migrate().await?;
    println!("store: {url}");

    let domain = Domain::new(store);
    let users = domain.commands(UserCommands);
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });

    match users.create("alice", "Alice".into()).await {
        Ok(alice) => println!(
            "created user alice ({}), version {}",
            alice.name, alice.version
        ),
        Err(Error::Command { source, .. }) => println!("user alice: {source} (an earlier run)"),
        Err(other) => return Err(other),
    }

    // Post ids unique to this run, so that running again adds posts.
    let run = Timestamp::now().as_millis();
    let (first, second) = (format!("post-{run}-1"), format!("post-{run}-2"));
    let post = posts
        .create_post(&first, "alice".into(), "Hello, events".into())
        .await?;
    println!(
        "created {first} by {}, version {}",
        post.user_id, post.version
    );

    // A command can also arrive as JSON, over HTTP or from a queue.
    let json = r#"{"type":"createPost","userId":"alice","content":"Second thoughts"}"#;
    let command: PostCommand = serde_json::from_str(json).expect("a valid command");
    posts.execute(&second, &command).await?;
    println!("created {second} from JSON {json}");

    match posts
        .create_post(&format!("post-{run}-3"), "mallory".into(), "spam".into())
        .await
    {
        Err(refused) => println!("refused as expected: {refused}"),
        Ok(_) => println!("unexpected: mallory does not exist"),
    }

    let archived = posts.archive_post(&second, "alice".into()).await?;
    println!("archived {second}, version {}", archived.version);

    // The read model lives in memory, so its bookmark does too: each run rebuilds it.
    let model = domain
        .handler("posts-model", PostsModel::default())
        .stream::<UserEvent>()
        .stream::<PostEvent>()
        .bookmark_in_memory()
        .build();
    let handled = model.run_once().await?;
    println!("the handler handled {handled} events; live posts:");
    for (id, post) in model.model().posts.lock().unwrap().iter() {
        println!("  {id}: {post}");
    }
    Ok(())
}

/// The rules and the read model tested without a database: given these events, when this
/// command, then these events or this refusal.
#[cfg(test)]
mod tests {
    use super::*;
    use evtstore::testing::{CommandTest, HandlerTest};

    fn post_commands(
        domain: &Domain<evtstore::MemoryStore>,
    ) -> PostCommands<evtstore::MemoryStore> {
        PostCommands {
            domain: domain.clone(),
        }
    }

    fn create_post(user_id: &str) -> PostCommand {
        PostCommand::CreatePost {
            user_id: user_id.into(),
            content: "Hello".into(),
        }
    }

    #[tokio::test]
    async fn an_enabled_user_posts() {
        CommandTest::with_domain(post_commands)
            .given(
                "alice",
                [UserEvent::Created {
                    name: "Alice".into(),
                }],
            )
            .when("post-1", &create_post("alice"))
            .await
            .then_events([PostEvent::PostCreated {
                user_id: "alice".into(),
                content: "Hello".into(),
            }]);
    }

    /// Stored as the TypeScript evtstore's example stores it, so that both can share a database.
    #[tokio::test]
    async fn a_post_is_stored_as_the_typescript_example_stores_it() {
        let domain = Domain::new(evtstore::MemoryStore::new());
        domain
            .commands(UserCommands)
            .execute(
                "alice",
                &UserCommand::Create {
                    name: "Alice".into(),
                },
            )
            .await
            .unwrap();
        domain
            .commands(post_commands(&domain))
            .execute("post-1", &create_post("alice"))
            .await
            .unwrap();
        let stored = domain.store().load("posts", "post-1", 0).await.unwrap();
        assert_eq!(
            stored[0].event,
            r#"{"type":"postCreated","content":"Hello","userId":"alice"}"#
        );
        // Commands arrive in the TypeScript example's shape too.
        let command: PostCommand =
            serde_json::from_str(r#"{"type":"createPost","userId":"bob","content":"Hi"}"#).unwrap();
        let PostCommand::CreatePost { user_id, content } = command else {
            panic!("not a createPost: {command:?}");
        };
        assert_eq!((user_id.as_str(), content.as_str()), ("bob", "Hi"));
    }

    #[tokio::test]
    async fn a_disabled_or_unknown_user_cannot_post() {
        CommandTest::with_domain(post_commands)
            .given(
                "alice",
                [
                    UserEvent::Created {
                        name: "Alice".into(),
                    },
                    UserEvent::Disabled,
                ],
            )
            .when("post-1", &create_post("alice"))
            .await
            .then_refused("unauthorized");
        CommandTest::with_domain(post_commands)
            .when("post-1", &create_post("mallory"))
            .await
            .then_refused("unauthorized");
    }

    #[tokio::test]
    async fn archiving_twice_appends_once() {
        let created = PostEvent::PostCreated {
            user_id: "alice".into(),
            content: "Hello".into(),
        };
        let archive = PostCommand::ArchivePost {
            user_id: "alice".into(),
        };
        CommandTest::with_domain(post_commands)
            .given("post-1", [created.clone()])
            .when("post-1", &archive)
            .await
            .then_events([PostEvent::PostArchived]);
        CommandTest::with_domain(post_commands)
            .given("post-1", [created, PostEvent::PostArchived])
            .when("post-1", &archive)
            .await
            .then_no_events();
    }

    #[tokio::test]
    async fn the_read_model_lists_live_posts_by_author_name() {
        let created = |content: &str| PostEvent::PostCreated {
            user_id: "alice".into(),
            content: content.into(),
        };
        let handled = HandlerTest::new(PostsModel::default())
            .given(
                "alice",
                [UserEvent::Created {
                    name: "Alice".into(),
                }],
            )
            .given("post-1", [created("first")])
            .given("post-2", [created("second"), PostEvent::PostArchived])
            .handle(|handler| handler.stream::<UserEvent>().stream::<PostEvent>())
            .await;
        let posts = handled.model().posts.lock().unwrap().clone();
        assert_eq!(
            posts,
            BTreeMap::from([("post-1".to_owned(), "\"first\" by Alice".to_owned())])
        );
    }
}
