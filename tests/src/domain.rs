//! The domain the conformance suite runs: the seed's users and posts, a counter with snapshots,
//! and a read model that records what it was handed.

use std::collections::HashMap;
use std::sync::Mutex;

use evtstore::Events;
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

/// Events of the `users` stream.
#[derive(Aggregate, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
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

/// The user command set. `seen_versions` records the version each decision saw.
#[derive(Debug, Default)]
pub struct UserCommands {
    /// Versions seen by every decision, in order.
    pub seen_versions: Mutex<Vec<u64>>,
}

impl UserCommands {
    /// Records the version a decision saw, and refuses commands on users that do not exist.
    fn saw(&self, user: &Agg<User>) -> Result<(), CommandError> {
        self.seen_versions.lock().unwrap().push(user.version);
        if user.exists() {
            Ok(())
        } else {
            Err(CommandError::new("user does not exist"))
        }
    }
}

#[command(UserEvent)]
impl UserCommands {
    /// Create the user.
    async fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
        if self.saw(user).is_ok() {
            return Err(CommandError::new("user already exists").with_code("exists"));
        }
        Ok(UserEvent::Created { name }.into())
    }

    /// Disable the user.
    async fn disable(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
        self.saw(user)?;
        Ok(UserEvent::Disabled.into())
    }

    /// Enable the user.
    async fn enable(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
        self.saw(user)?;
        Ok(UserEvent::Enabled.into())
    }

    /// Disable then enable in one command: two events.
    async fn toggle(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
        self.saw(user)?;
        Ok(vec![UserEvent::Disabled, UserEvent::Enabled].into())
    }

    /// Decide nothing.
    async fn noop(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
        self.saw(user)?;
        Ok(Events::none())
    }

    /// Record the version the command saw, then decide nothing.
    async fn observe(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
        self.saw(user)?;
        Ok(Events::none())
    }
}

/// Events of the `posts` stream, with the TypeScript evtstore example's field names
/// (`{"type":"postCreated","userId":..,"content":..}`).
#[derive(Aggregate, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[aggregate(stream = "posts", state = Post)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
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

impl PostEventFold for Post {
    fn post_created(&mut self, user_id: &String, content: &String) {
        self.user_id.clone_from(user_id);
        self.content.clone_from(content);
    }
    fn post_archived(&mut self) {
        self.archived = true;
    }
}

/// The post command set: it checks users through the domain.
#[derive(Debug)]
pub struct PostCommands<S> {
    /// The domain, to load users.
    pub domain: Domain<S>,
}

#[command(PostEvent)]
impl<S: Store> PostCommands<S> {
    /// Write a post as `user_id`, who must exist.
    async fn create_post(
        &self,
        post: &Agg<Post>,
        user_id: String,
        content: String,
    ) -> CommandResult<PostEvent> {
        if post.exists() {
            return Err(CommandError::new("post already exists"));
        }
        // `?` keeps a failed load a failure (a database error reaches the caller as itself),
        // not a refusal.
        let user = self.domain.load::<UserEvent>(&user_id).await?;
        if !user.exists() {
            return Err(CommandError::new("unauthorized"));
        }
        Ok(PostEvent::PostCreated { user_id, content }.into())
    }

    /// Archive a post; only its author may.
    async fn archive_post(&self, post: &Agg<Post>, user_id: String) -> CommandResult<PostEvent> {
        if user_id != post.user_id {
            return Err(CommandError::new("not allowed"));
        }
        Ok((!post.archived).then_some(PostEvent::PostArchived).into())
    }

    /// Archive a post as the acting user of the call's metadata, who must be its author: the
    /// rule is decided from who acts, not from a field of the command.
    async fn archive_as_actor(
        &self,
        post: &Agg<Post>,
        metadata: &Metadata,
    ) -> CommandResult<PostEvent> {
        if metadata.user.as_deref() != Some(post.user_id.as_str()) {
            return Err(CommandError::new("only the author may archive a post"));
        }
        Ok((!post.archived).then_some(PostEvent::PostArchived).into())
    }
}

/// Events of the `counters` stream, folded by the first version of the counter: snapshots
/// tagged `v1`, one per increment.
#[derive(Aggregate, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[aggregate(stream = "counters", state = Counter, persist = "v1")]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CounterEvent {
    /// Add one step.
    Incremented,
}

/// The same events folded by a changed fold (ten per increment) under the tag `v2`: two
/// versions of one aggregate show whether a load used a snapshot or refolded the events.
#[derive(Aggregate, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[aggregate(stream = "counters", state = Counter, persist = "v2")]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CounterEventV2 {
    /// Add one step.
    Incremented,
}

/// A counter's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// The sum of the steps folded.
    pub total: u64,
}

impl CounterEventFold for Counter {
    fn incremented(&mut self) {
        self.total += 1;
    }
}

impl CounterEventV2Fold for Counter {
    fn incremented(&mut self) {
        self.total += 10;
    }
}

/// Increments a counter.
#[derive(Debug, Default)]
pub struct CounterCommands;

#[command(CounterEvent)]
impl CounterCommands {
    /// Increments `by` times in one command (so `by` events).
    async fn increment(&self, _counter: &Agg<Counter>, by: u64) -> CommandResult<CounterEvent> {
        Ok((0..by).map(|_| CounterEvent::Incremented).collect())
    }
}

/// The same command on the counter with the changed fold.
#[derive(Debug, Default)]
pub struct CounterCommandsV2;

#[command(CounterEventV2)]
impl CounterCommandsV2 {
    /// Increments `by` times in one command (so `by` events).
    async fn increment(&self, _counter: &Agg<Counter>, by: u64) -> CommandResult<CounterEventV2> {
        Ok((0..by).map(|_| CounterEventV2::Incremented).collect())
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

    async fn slow_down(&self) {
        let slow = self.slow_millis.load(std::sync::atomic::Ordering::SeqCst);
        if slow > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(slow)).await;
        }
    }

    fn record(&self, event_type: &'static str, meta: &EventMeta) -> HandlerResult {
        if self.fail_on.lock().unwrap().as_deref() == Some(meta.aggregate_id.as_str()) {
            return Err(format!("refusing {}", meta.aggregate_id).into());
        }
        self.seen.lock().unwrap().push(Seen {
            stream: meta.stream,
            aggregate_id: meta.aggregate_id.clone(),
            event_type,
            version: meta.version,
            position: meta.position(),
        });
        Ok(())
    }
}

impl PostEventHandler for PostsModel {
    async fn post_created(
        &self,
        id: &str,
        user_id: &String,
        content: &String,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.record("postCreated", meta)?;
        let post = (user_id.clone(), content.clone(), false);
        self.posts.lock().unwrap().insert(id.to_owned(), post);
        Ok(())
    }

    async fn post_archived(&self, id: &str, meta: &EventMeta) -> HandlerResult {
        self.record("postArchived", meta)?;
        if let Some(post) = self.posts.lock().unwrap().get_mut(id) {
            post.2 = true;
        }
        Ok(())
    }
}

impl UserEventHandler for PostsModel {
    async fn created(&self, _: &str, _: &String, meta: &EventMeta) -> HandlerResult {
        self.slow_down().await;
        self.record("created", meta)
    }

    async fn disabled(&self, _: &str, meta: &EventMeta) -> HandlerResult {
        self.slow_down().await;
        self.record("disabled", meta)
    }

    async fn enabled(&self, _: &str, meta: &EventMeta) -> HandlerResult {
        self.slow_down().await;
        self.record("enabled", meta)
    }
}
