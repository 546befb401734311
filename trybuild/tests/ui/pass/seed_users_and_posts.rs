//! The TypeScript evtstore's users/posts example, with a two-stream handler, run on the
//! memory store.

#![deny(warnings)]

use std::sync::Mutex;

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    Created { name: String },
    Disabled,
    Enabled,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
    pub enabled: bool,
}

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

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "posts", state = Post, persist = "v1")]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PostEvent {
    PostCreated { user_id: String, content: String },
    PostArchived,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Post {
    pub user_id: String,
    pub content: String,
    pub archived: bool,
}

impl PostEventFold for Post {
    fn post_created(&mut self, user_id: &String, content: &String) {
        self.user_id.clone_from(user_id);
        self.content.clone_from(content);
    }
    fn post_archived(&mut self) {
        self.archived = true;
    }
}

pub struct UserCommands;

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
        Ok((!user.enabled).then_some(UserEvent::Enabled).into())
    }
}

/// Carries the domain to check the author, as the seed's `createPost` does.
pub struct PostCommands<S> {
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
        let user = self
            .domain
            .load::<UserEvent>(&user_id)
            .await
            .map_err(|error| CommandError::new(error.to_string()))?;
        if !user.exists() {
            return Err(CommandError::new("unauthorized"));
        }
        Ok(PostEvent::PostCreated { user_id, content }.into())
    }

    async fn archive_post(&self, post: &Agg<Post>, user_id: String) -> CommandResult<PostEvent> {
        if user_id != post.user_id {
            return Err(CommandError::new("not allowed"));
        }
        Ok((!post.archived).then_some(PostEvent::PostArchived).into())
    }
}

/// A read model over both streams.
#[derive(Default)]
pub struct PostModel {
    seen: Mutex<Vec<String>>,
}

impl PostModel {
    fn push(&self, entry: String) {
        self.seen.lock().unwrap().push(entry);
    }
}

impl PostEventHandler for PostModel {
    async fn post_created(
        &self,
        id: &str,
        user_id: &String,
        content: &String,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.push(format!("{} post {id} by {user_id}: {content}", meta.position()));
        Ok(())
    }
}

impl UserEventHandler for PostModel {
    async fn created(&self, id: &str, name: &String, meta: &EventMeta) -> HandlerResult {
        self.push(format!("{} user {id} is {name}", meta.position()));
        Ok(())
    }
}

async fn run() -> Result<(), evtstore::Error> {
    let domain = Domain::new(MemoryStore::new());
    let users = domain.commands(UserCommands);
    let posts = domain.commands(PostCommands {
        domain: domain.clone(),
    });

    let alice = users.create("alice", "Alice".into()).await?;
    assert_eq!((alice.version, alice.name.as_str()), (1, "Alice"));
    let post = posts
        .create_post("p1", "alice".into(), "Hello".into())
        .await?;
    assert_eq!(post.version, 1);
    assert!(posts.create_post("p2", "bob".into(), "Hi".into()).await.is_err());
    assert!(posts.archive_post("p1", "bob".into()).await.is_err());
    assert!(posts.archive_post("p1", "alice".into()).await?.archived);
    assert!(!users.disable("alice").await?.enabled);

    // A command can also arrive as JSON.
    let command: PostCommand =
        serde_json::from_str(r#"{"type":"createPost","userId":"alice","content":"Again"}"#)
            .unwrap();
    assert_eq!(posts.execute("p3", &command).await?.content, "Again");

    let model = domain
        .handler("posts-model", PostModel::default())
        .stream::<PostEvent>()
        .stream::<UserEvent>()
        .options(HandlerOptions {
            tail_stream: false,
            always_tail_stream: false,
            continue_on_error: false,
        })
        .build();
    assert_eq!(model.run_once().await?, 5);
    assert_eq!(
        *model.model().seen.lock().unwrap(),
        [
            "1 user alice is Alice",
            "2 post p1 by alice: Hello",
            "5 post p3 by alice: Again",
        ]
    );
    assert_eq!(model.run_once().await?, 0);
    Ok(())
}

fn main() {
    // The JSON `type` of each command, camelCase as serde writes it.
    assert_eq!(UserCommand::TYPES, ["create", "disable", "enable"]);
    assert_eq!(PostCommand::TYPES, ["createPost", "archivePost"]);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run())
        .unwrap();
}
