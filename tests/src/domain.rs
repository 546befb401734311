//! The domain the conformance suite runs: the seed's users and posts, a counter with snapshots,
//! and a read model that records what it was handed.

use std::collections::HashMap;
use std::sync::Mutex;

use evtstore::{
    Agg, Aggregate, CommandError, CommandResult, CommandSet, Domain, EventMeta, Events, HandledBy,
    HandlerResult, Snapshots, Store,
};
use serde::{Deserialize, Serialize};

/// Events of the `users` stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    /// The user was created.
    Created {
        /// Display name.
        name: String,
    },
    /// The user was disabled.
    Disabled,
    /// The user was enabled.
    Enabled,
}

/// A user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Display name.
    pub name: String,
    /// Whether the user may post.
    pub enabled: bool,
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

    fn fold(state: &mut User, event: &Self) {
        match event {
            UserEvent::Created { name } => {
                state.name.clone_from(name);
                state.enabled = true;
            }
            UserEvent::Disabled => state.enabled = false,
            UserEvent::Enabled => state.enabled = true,
        }
    }
}

/// Commands on users.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserCommand {
    /// Create the user.
    Create {
        /// Display name.
        name: String,
    },
    /// Disable the user.
    Disable,
    /// Enable the user.
    Enable,
    /// Disable then enable in one command: two events.
    Toggle,
    /// Decide nothing.
    Noop,
    /// Record the version the command saw, then decide nothing.
    Observe,
}

/// The user command set. `seen_versions` records the version each decision saw.
#[derive(Debug, Default)]
pub struct UserCommands {
    /// Versions seen by `Observe` and by every decision, in order.
    pub seen_versions: Mutex<Vec<u64>>,
}

impl CommandSet for UserCommands {
    type Aggregate = UserEvent;
    type Command = UserCommand;

    async fn decide(&self, user: &Agg<User>, command: &UserCommand) -> CommandResult<UserEvent> {
        self.seen_versions.lock().unwrap().push(user.version);
        match command {
            UserCommand::Create { .. } if user.exists() => {
                Err(CommandError::new("user already exists").with_code("exists"))
            }
            UserCommand::Create { name } => Ok(UserEvent::Created { name: name.clone() }.into()),
            _ if !user.exists() => Err(CommandError::new("user does not exist")),
            UserCommand::Disable => Ok(UserEvent::Disabled.into()),
            UserCommand::Enable => Ok(UserEvent::Enabled.into()),
            UserCommand::Toggle => Ok(vec![UserEvent::Disabled, UserEvent::Enabled].into()),
            UserCommand::Noop | UserCommand::Observe => Ok(Events::none()),
        }
    }
}

/// Events of the `posts` stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PostEvent {
    /// A post was written.
    PostCreated {
        /// The author.
        user_id: String,
        /// The text.
        content: String,
    },
    /// The post was archived.
    PostArchived,
}

/// A post.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// The author.
    pub user_id: String,
    /// The text.
    pub content: String,
    /// Whether it was archived.
    pub archived: bool,
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

    fn fold(state: &mut Post, event: &Self) {
        match event {
            PostEvent::PostCreated { user_id, content } => {
                state.user_id.clone_from(user_id);
                state.content.clone_from(content);
            }
            PostEvent::PostArchived => state.archived = true,
        }
    }
}

/// Commands on posts.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PostCommand {
    /// Write a post as `user_id`, who must exist.
    CreatePost {
        /// The author.
        user_id: String,
        /// The text.
        content: String,
    },
    /// Archive a post; only its author may.
    ArchivePost {
        /// Who asks.
        user_id: String,
    },
}

/// The post command set: it checks users through the domain.
#[derive(Debug)]
pub struct PostCommands<S> {
    /// The domain, to load users.
    pub domain: Domain<S>,
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
                let user = self
                    .domain
                    .load::<UserEvent>(user_id)
                    .await
                    .map_err(|error| CommandError::new(error.to_string()))?;
                if !user.exists() {
                    return Err(CommandError::new("unauthorized"));
                }
                Ok(PostEvent::PostCreated {
                    user_id: user_id.clone(),
                    content: content.clone(),
                }
                .into())
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

/// Declares a counter aggregate of the `counters` stream whose snapshots carry `$tag` and
/// whose fold adds `$step` per increment: two of them with different tags and steps show
/// whether a load used a snapshot or refolded the events.
macro_rules! counter {
    ($event:ident, $tag:literal, $step:literal) => {
        /// Events of the `counters` stream.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "camelCase")]
        pub enum $event {
            /// Add one step.
            Incremented,
        }

        impl Aggregate for $event {
            type State = Counter;
            const STREAM: &'static str = "counters";
            const EVENT_TYPES: &'static [&'static str] = &["incremented"];
            const SNAPSHOTS: Option<Snapshots<Counter>> = Some(Snapshots::json($tag));

            fn event_type(&self) -> &'static str {
                "incremented"
            }

            fn fold(state: &mut Counter, _event: &Self) {
                state.total += $step;
            }
        }
    };
}

counter!(CounterEvent, "v1", 1);
counter!(CounterEventV2, "v2", 10);

/// A counter's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// The sum of the steps folded.
    pub total: u64,
}

/// Increments a counter `by` times in one command (so `by` events).
#[derive(Debug, Default)]
pub struct CounterCommands;

impl CommandSet for CounterCommands {
    type Aggregate = CounterEvent;
    type Command = u64;

    async fn decide(&self, _: &Agg<Counter>, by: &u64) -> CommandResult<CounterEvent> {
        Ok((0..*by).map(|_| CounterEvent::Incremented).collect())
    }
}

/// The same command set on the counter with the changed fold.
#[derive(Debug, Default)]
pub struct CounterCommandsV2;

impl CommandSet for CounterCommandsV2 {
    type Aggregate = CounterEventV2;
    type Command = u64;

    async fn decide(&self, _: &Agg<Counter>, by: &u64) -> CommandResult<CounterEventV2> {
        Ok((0..*by).map(|_| CounterEventV2::Incremented).collect())
    }
}

/// One event as a model received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The event's stream.
    pub stream: &'static str,
    /// The event's aggregate.
    pub aggregate_id: String,
    /// The stored type name.
    pub event_type: &'static str,
    /// The event's version.
    pub version: u64,
    /// The event's global position.
    pub position: i64,
}

/// A read model of posts that also records every event it receives. Events of the aggregate
/// named in `fail_on` fail.
#[derive(Debug, Default)]
pub struct PostsModel {
    /// Posts by id: (author, content, archived).
    pub posts: Mutex<HashMap<String, (String, String, bool)>>,
    /// Every event received without failing, in order.
    pub seen: Mutex<Vec<Seen>>,
    /// An aggregate id whose events fail.
    pub fail_on: Mutex<Option<String>>,
    /// How long handling each user event takes, in milliseconds.
    pub slow_millis: std::sync::atomic::AtomicU64,
}

impl PostsModel {
    /// The events received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The aggregate ids of the events received so far.
    pub fn seen_ids(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .map(|seen| seen.aggregate_id)
            .collect()
    }

    fn record<A: Aggregate>(&self, event: &A, meta: &EventMeta) -> HandlerResult {
        if self.fail_on.lock().unwrap().as_deref() == Some(meta.aggregate_id.as_str()) {
            return Err(format!("refusing {}", meta.aggregate_id).into());
        }
        self.seen.lock().unwrap().push(Seen {
            stream: meta.stream,
            aggregate_id: meta.aggregate_id.clone(),
            event_type: event.event_type(),
            version: meta.version,
            position: meta.position(),
        });
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
        model.record(event, meta)?;
        let mut posts = model.posts.lock().unwrap();
        match event {
            PostEvent::PostCreated { user_id, content } => {
                posts.insert(id.to_owned(), (user_id.clone(), content.clone(), false));
            }
            PostEvent::PostArchived => {
                if let Some(post) = posts.get_mut(id) {
                    post.2 = true;
                }
            }
        }
        Ok(())
    }
}

impl HandledBy<PostsModel> for UserEvent {
    async fn dispatch(
        model: &PostsModel,
        _: &str,
        event: &Self,
        meta: &EventMeta,
    ) -> HandlerResult {
        let slow = model.slow_millis.load(std::sync::atomic::Ordering::SeqCst);
        if slow > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(slow)).await;
        }
        model.record(event, meta)
    }
}
