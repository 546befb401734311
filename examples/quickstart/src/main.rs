//! The users/posts domain of the evtstore README, end to end: users and posts as aggregates,
//! commands that check each other, and a read model of posts kept by an event handler.
//!
//! Run it with `cargo run -p quickstart`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use evtstore::{
    Agg, Aggregate, CommandError, CommandResult, CommandSet, Domain, EventMeta, Events, HandledBy,
    HandlerResult, MemoryStore, Store,
};
use serde::{Deserialize, Serialize};

/// Events of the `users` stream, stored as `{"type":"created","name":..}` and so on.
#[derive(Clone, Debug, Serialize, Deserialize)]
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

impl Aggregate for UserEvent {
    type State = User;
    const STREAM: &'static str = "users";
    const EVENT_TYPES: &'static [&'static str] = &["created", "disabled", "enabled"];

    fn event_type(&self) -> &'static str {
        match self {
            UserEvent::Created { .. } => "created",
            UserEvent::Disabled => "disabled",
            UserEvent::Enabled => "enabled",
        }
    }

    fn fold(user: &mut User, event: &Self) {
        match event {
            UserEvent::Created { name } => {
                user.name.clone_from(name);
                user.enabled = true;
            }
            UserEvent::Disabled => user.enabled = false,
            UserEvent::Enabled => user.enabled = true,
        }
    }
}

#[derive(Debug)]
enum UserCommand {
    Create { name: String },
}

struct UserCommands;

impl CommandSet for UserCommands {
    type Aggregate = UserEvent;
    type Command = UserCommand;

    async fn decide(&self, user: &Agg<User>, command: &UserCommand) -> CommandResult<UserEvent> {
        match command {
            UserCommand::Create { .. } if user.exists() => {
                Err(CommandError::new("user already exists"))
            }
            UserCommand::Create { name } => Ok(UserEvent::Created { name: name.clone() }.into()),
        }
    }
}

/// Events of the `posts` stream.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum PostEvent {
    PostCreated { user_id: String, content: String },
    PostArchived,
}

#[derive(Clone, Debug, Default)]
struct Post {
    user_id: String,
    archived: bool,
}

impl Aggregate for PostEvent {
    type State = Post;
    const STREAM: &'static str = "posts";
    const EVENT_TYPES: &'static [&'static str] = &["postCreated", "postArchived"];

    fn event_type(&self) -> &'static str {
        match self {
            PostEvent::PostCreated { .. } => "postCreated",
            PostEvent::PostArchived => "postArchived",
        }
    }

    fn fold(post: &mut Post, event: &Self) {
        match event {
            PostEvent::PostCreated { user_id, .. } => post.user_id.clone_from(user_id),
            PostEvent::PostArchived => post.archived = true,
        }
    }
}

#[derive(Debug)]
enum PostCommand {
    CreatePost { user_id: String, content: String },
    ArchivePost { user_id: String },
}

/// Post commands carry the domain, to check that the author exists.
struct PostCommands<S> {
    domain: Domain<S>,
}

impl<S: Store> CommandSet for PostCommands<S> {
    type Aggregate = PostEvent;
    type Command = PostCommand;

    async fn decide(&self, post: &Agg<Post>, command: &PostCommand) -> CommandResult<PostEvent> {
        match command {
            PostCommand::CreatePost { user_id, content } => {
                if post.exists() {
                    return Err(CommandError::new("post already exists"));
                }
                let user = self.domain.load::<UserEvent>(user_id).await;
                if !user.is_ok_and(|user| user.exists() && user.enabled) {
                    return Err(CommandError::new("unauthorized"));
                }
                let created = PostEvent::PostCreated {
                    user_id: user_id.clone(),
                    content: content.clone(),
                };
                Ok(created.into())
            }
            PostCommand::ArchivePost { user_id } => {
                if *user_id != post.user_id {
                    return Err(CommandError::new("not allowed"));
                }
                if post.archived {
                    return Ok(Events::none());
                }
                Ok(PostEvent::PostArchived.into())
            }
        }
    }
}

/// A read model: every post with its author's name, as a query side would keep it.
#[derive(Debug, Default)]
struct PostsModel {
    authors: Mutex<BTreeMap<String, String>>,
    posts: Mutex<BTreeMap<String, String>>,
}

impl HandledBy<PostsModel> for UserEvent {
    async fn dispatch(model: &PostsModel, id: &str, event: &Self, _: &EventMeta) -> HandlerResult {
        if let UserEvent::Created { name } = event {
            model
                .authors
                .lock()
                .unwrap()
                .insert(id.to_owned(), name.clone());
        }
        Ok(())
    }
}

impl HandledBy<PostsModel> for PostEvent {
    async fn dispatch(
        model: &PostsModel,
        id: &str,
        event: &Self,
        meta: &EventMeta,
    ) -> HandlerResult {
        let mut posts = model.posts.lock().unwrap();
        match event {
            PostEvent::PostCreated { user_id, content } => {
                let author = model.authors.lock().unwrap().get(user_id).cloned();
                let author = author.unwrap_or_else(|| user_id.clone());
                posts.insert(id.to_owned(), format!("{content:?} by {author}"));
            }
            PostEvent::PostArchived => {
                posts.remove(id);
            }
        }
        println!(
            "  read model: {} event at position {}",
            event.event_type(),
            meta.position()
        );
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), evtstore::Error> {
    let domain = Domain::new(MemoryStore::new());
    let users = domain.commands(UserCommands);
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });

    let alice = users
        .execute(
            "alice",
            &UserCommand::Create {
                name: "Alice".into(),
            },
        )
        .await?;
    println!(
        "created user {} ({}), version {}",
        alice.aggregate_id, alice.name, alice.version
    );

    let create_post = |user_id: &str, content: &str| PostCommand::CreatePost {
        user_id: user_id.into(),
        content: content.into(),
    };
    let post = posts
        .execute("post-1", &create_post("alice", "Hello, events"))
        .await?;
    println!(
        "created post-1 by {}, version {}",
        post.user_id, post.version
    );
    posts
        .execute("post-2", &create_post("alice", "Second thoughts"))
        .await?;

    match posts
        .execute("post-3", &create_post("mallory", "spam"))
        .await
    {
        Err(refused) => println!("refused as expected: {refused}"),
        Ok(_) => println!("unexpected: mallory does not exist"),
    }

    let archived = posts
        .execute(
            "post-2",
            &PostCommand::ArchivePost {
                user_id: "alice".into(),
            },
        )
        .await?;
    println!("archived post-2, version {}", archived.version);

    let model = domain
        .handler("posts-model", PostsModel::default())
        .stream::<UserEvent>()
        .stream::<PostEvent>()
        .build();
    let handled = model.run_once().await?;
    println!("the handler handled {handled} events; posts now:");
    for (id, post) in model.model().posts.lock().unwrap().iter() {
        println!("  {id}: {post}");
    }
    Ok(())
}
