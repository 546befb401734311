//! Type-safe event sourcing and CQRS.
//!
//! An *aggregate* is the fold of the events of one stream ([`Aggregate`]); a *command* loads
//! an aggregate, decides which events happen, and appends them with optimistic concurrency
//! ([`CommandSet`], [`Domain::execute`]); an *event handler* follows one or more streams in
//! global order and keeps its place with a bookmark ([`EventHandler`]). All of it runs on a
//! [`Store`]: the [`MemoryStore`] here, or the SQL stores of `evtstore-sqlx`.
//!
//! ```
//! # use evtstore::doc_fixtures::{UserCommands, UserCommand, UserEvent, CreatedUsers};
//! use evtstore::{Domain, MemoryStore};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let domain = Domain::new(MemoryStore::new());
//! let users = domain.commands(UserCommands);
//! users.execute("alice", &UserCommand::Create { name: "Alice".into() }).await?;
//!
//! let created = domain.handler("created-users", CreatedUsers::default()).stream::<UserEvent>().build();
//! assert_eq!(created.run_once().await?, 1);
//! # Ok::<_, evtstore::Error>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

mod aggregate;
mod cache;
mod command;
mod domain;
mod error;
mod event;
mod handler;
mod memory;
mod page;
mod retry;
mod store;
pub mod testing;
pub mod upcast;
mod wakeup;

#[doc(hidden)]
pub mod doc_fixtures;

pub use crate::aggregate::{Agg, Aggregate, Snapshot, Snapshots};
pub use crate::command::{CommandResult, CommandSet, Commands, Events};
pub use crate::domain::{Domain, DomainOptions, Recorded};
pub use crate::error::{BoxError, CommandError, DecodeError, Error, ErrorKind};
pub use crate::event::{
    Append, Cursor, EventMeta, Metadata, NewEvent, ReadRow, RecordedEvent, Timestamp,
    UnreadableRow, row_cursor,
};
pub use crate::handler::{
    BatchReport, DEFAULT_BOOKMARK_EVERY, DEFAULT_LEASE, EventHandler, HandledBy, HandlerBuilder,
    HandlerHandle, HandlerModel, HandlerOptions, HandlerResult, HandlerStatus, ProjectedBy,
    Segment,
};
pub use crate::memory::{MemoryStore, MemoryTransaction};
pub use crate::page::{EventRow, PackedRows, Page, PageRows};
pub use crate::store::{Claim, ClaimHolder, Claimed, MAX_LEASE, Replayed, Store};
pub use crate::upcast::{JsonObject, Upcast, UpcastContext, Upcaster};
pub use crate::wakeup::Wakeups;

/// Derives [`Aggregate`](trait@Aggregate) for the event enum of one stream, with a fold trait
/// and a handler trait.
///
/// ```
/// use evtstore::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
/// #[aggregate(stream = "users", state = User)]
/// #[serde(tag = "type", rename_all = "camelCase")]
/// pub enum UserEvent {
///     Created { name: String },
///     Disabled,
/// }
///
/// #[derive(Clone, Debug, Default)]
/// pub struct User {
///     pub name: String,
///     pub enabled: bool,
/// }
///
/// // The fold: one method per event, each taking the event's fields by reference. A
/// // missing method is a compile error that points at its variant.
/// impl UserEventFold for User {
///     fn created(&mut self, name: &String) {
///         self.name.clone_from(name);
///         self.enabled = true;
///     }
///     fn disabled(&mut self) {
///         self.enabled = false;
///     }
/// }
///
/// assert_eq!(UserEvent::EVENT_TYPES, ["created", "disabled"]);
/// ```
///
/// # Attributes
/// - `#[aggregate(stream = "users")]`: the stream the events are stored in. Required. Checked
///   at compile time against what every store keeps: not empty, at most 255 characters, no
///   leading or trailing whitespace or control characters, and none of `"`, `'` or a
///   backtick.
/// - `#[aggregate(state = User)]`: the type the events fold into (`Default + Clone + Send +
///   Sync`). Required.
/// - `#[aggregate(persist = "v1")]`: keep the folded state as a snapshot tagged `"v1"`
///   ([`Snapshots::json`]); the state must then be `Serialize` and `Deserialize`. Change the tag
///   whenever the fold changes meaning.
/// - `#[serde(tag = "type")]` is required: a stored event is a JSON object that names its type
///   in a `type` field, `{"type":"created","name":"Alice"}`, as the TypeScript evtstore stores
///   them. Untagged and adjacently tagged enums are refused.
///
/// The stored type name of each variant is what serde writes: the variant's name under the
/// enum's `rename_all` rule (any of serde's rules) or the variant's `rename`. Two variants
/// stored under one name, and names that differ between serializing and deserializing, are
/// compile errors. Variants are unit, struct, or single-field tuple variants (whose value
/// serde flattens next to the `type` field, so it must be a struct or a map).
///
/// # What it generates
/// For `UserEvent` with `state = User`, the derive stands for this hand-written code:
///
/// ```
/// # #![allow(dead_code)]
/// # use evtstore::{Aggregate, EventMeta, HandledBy, HandlerResult, ProjectedBy};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Clone, Debug, Serialize, Deserialize)]
/// # #[serde(tag = "type", rename_all = "camelCase")]
/// # pub enum UserEvent { Created { name: String }, Disabled }
/// # #[derive(Clone, Debug, Default)]
/// # pub struct User { pub name: String, pub enabled: bool }
/// use std::future::Future;
///
/// /// One method per event; implemented by the state.
/// pub trait UserEventFold {
///     fn created(&mut self, name: &String);
///     fn disabled(&mut self);
/// }
///
/// /// One method per event, each doing nothing unless implemented; implemented by read
/// /// models. The method names are the variants' names in snake case.
/// pub trait UserEventHandler: Sync {
///     fn created(&self, aggregate_id: &str, name: &String, meta: &EventMeta)
///         -> impl Future<Output = HandlerResult> + Send {
///         let _ = (aggregate_id, name, meta);
///         std::future::ready(Ok(()))
///     }
///     fn disabled(&self, aggregate_id: &str, meta: &EventMeta)
///         -> impl Future<Output = HandlerResult> + Send {
///         let _ = (aggregate_id, meta);
///         std::future::ready(Ok(()))
///     }
/// }
///
/// /// The same for transactional projections: each method is also given the store's open
/// /// transaction `Tx`, whose writes commit with the handler's bookmark.
/// pub trait UserEventProjection<Tx: Send>: Sync {
///     fn created(&self, transaction: &mut Tx, aggregate_id: &str, name: &String, meta: &EventMeta)
///         -> impl Future<Output = HandlerResult> + Send {
///         let _ = (transaction, aggregate_id, name, meta);
///         std::future::ready(Ok(()))
///     }
///     fn disabled(&self, transaction: &mut Tx, aggregate_id: &str, meta: &EventMeta)
///         -> impl Future<Output = HandlerResult> + Send {
///         let _ = (transaction, aggregate_id, meta);
///         std::future::ready(Ok(()))
///     }
/// }
///
/// impl Aggregate for UserEvent {
///     type State = User;
///     const STREAM: &'static str = "users";
///     const EVENT_TYPES: &'static [&'static str] = &["created", "disabled"];
///     // With `persist = "v1"`:
///     // const SNAPSHOTS: Option<Snapshots<User>> = Some(Snapshots::json("v1"));
///
///     fn event_type(&self) -> &'static str {
///         match self {
///             UserEvent::Created { .. } => "created",
///             UserEvent::Disabled => "disabled",
///         }
///     }
///
///     fn fold(state: &mut User, event: &Self) {
///         match event {
///             UserEvent::Created { name } => state.created(name),
///             UserEvent::Disabled => state.disabled(),
///         }
///     }
/// }
///
/// // Lets `.stream::<UserEvent>()` register any model that implements the handler trait.
/// #[diagnostic::do_not_recommend]
/// impl<H: UserEventHandler> HandledBy<H> for UserEvent {
///     async fn dispatch(model: &H, aggregate_id: &str, event: &Self, meta: &EventMeta)
///         -> HandlerResult {
///         match event {
///             UserEvent::Created { name } => model.created(aggregate_id, name, meta).await,
///             UserEvent::Disabled => model.disabled(aggregate_id, meta).await,
///         }
///     }
/// }
///
/// // Lets `.project::<UserEvent>()` register a model that projects on the store's
/// // transaction type.
/// #[diagnostic::do_not_recommend]
/// impl<H: UserEventProjection<Tx>, Tx: Send> ProjectedBy<H, Tx> for UserEvent {
///     async fn project(model: &H, transaction: &mut Tx, aggregate_id: &str, event: &Self,
///         meta: &EventMeta) -> HandlerResult {
///         match event {
///             UserEvent::Created { name } => {
///                 model.created(transaction, aggregate_id, name, meta).await
///             }
///             UserEvent::Disabled => model.disabled(transaction, aggregate_id, meta).await,
///         }
///     }
/// }
/// # impl UserEventFold for User {
/// #     fn created(&mut self, name: &String) { self.name.clone_from(name); }
/// #     fn disabled(&mut self) { self.enabled = false; }
/// # }
/// ```
///
/// A model handles a stream by implementing its handler trait, and is registered for it with
/// [`HandlerBuilder::stream`]; registering a stream whose handler trait the model does not
/// implement is a compile error: "`PostModel` does not handle the events of `UserEvent`".
///
/// ```
/// use evtstore::{EventMeta, HandlerResult};
/// # mod generated {
/// #     use evtstore::prelude::*;
/// #     use serde::{Deserialize, Serialize};
/// #     #[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
/// #     #[aggregate(stream = "posts", state = Post)]
/// #     #[serde(tag = "type", rename_all = "camelCase")]
/// #     pub enum PostEvent { PostCreated { user_id: String, content: String } }
/// #     #[derive(Clone, Debug, Default)]
/// #     pub struct Post;
/// #     impl PostEventFold for Post { fn post_created(&mut self, _: &String, _: &String) {} }
/// # }
/// # use generated::{PostEvent, PostEventHandler};
///
/// #[derive(Default)]
/// struct PostModel;
///
/// impl PostEventHandler for PostModel {
///     async fn post_created(
///         &self,
///         id: &str,
///         user_id: &String,
///         content: &String,
///         meta: &EventMeta,
///     ) -> HandlerResult {
///         println!("{} post {id} by {user_id}: {content}", meta.position());
///         Ok(())
///     }
/// }
///
/// let domain = evtstore::Domain::new(evtstore::MemoryStore::new());
/// let model = domain.handler("posts-model", PostModel).stream::<PostEvent>().build();
/// # let _ = model;
/// ```
///
/// A transactional read model implements the projection trait for the store's transaction
/// type and is registered with [`HandlerBuilder::project`]; its writes through the
/// transaction and the bookmark commit together, so each event is applied exactly once. On
/// the SQL stores the transaction is the backend's `sqlx::Transaction` (for example
/// `sqlx::Transaction<'static, sqlx::Postgres>` for `evtstore_sqlx::PgStore`); the memory
/// store's [`MemoryTransaction`] runs effects on commit:
///
/// ```
/// # mod generated {
/// #     use evtstore::prelude::*;
/// #     use serde::{Deserialize, Serialize};
/// #     #[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
/// #     #[aggregate(stream = "users", state = User)]
/// #     #[serde(tag = "type", rename_all = "camelCase")]
/// #     pub enum UserEvent { Created { name: String } }
/// #     #[derive(Clone, Debug, Default)]
/// #     pub struct User;
/// #     impl UserEventFold for User { fn created(&mut self, _: &String) {} }
/// # }
/// # use generated::{UserEvent, UserEventProjection};
/// use std::sync::{Arc, Mutex};
/// use evtstore::{EventMeta, HandlerResult, MemoryTransaction};
///
/// #[derive(Default)]
/// struct UserNames(Arc<Mutex<Vec<String>>>);
///
/// impl UserEventProjection<MemoryTransaction> for UserNames {
///     async fn created(
///         &self,
///         transaction: &mut MemoryTransaction,
///         _id: &str,
///         name: &String,
///         _meta: &EventMeta,
///     ) -> HandlerResult {
///         let (names, name) = (Arc::clone(&self.0), name.clone());
///         transaction.on_commit(move || names.lock().unwrap().push(name));
///         Ok(())
///     }
/// }
///
/// let domain = evtstore::Domain::new(evtstore::MemoryStore::new());
/// let names = domain.handler("names", UserNames::default()).project::<UserEvent>().build();
/// # let _ = names;
/// ```
///
/// [`HandlerBuilder::stream`]: crate::HandlerBuilder::stream
/// [`HandlerBuilder::project`]: crate::HandlerBuilder::project
pub use evtstore_macros::Aggregate;

/// Turns an impl block of `async fn`s into a command set: the command enum, the
/// [`CommandSet`] impl that routes each command to its method, and typed entry points.
///
/// ```
/// # use evtstore::doc_fixtures::{User, UserEvent};
/// use evtstore::prelude::*;
///
/// pub struct UserCommands;
///
/// #[command(UserEvent)]
/// impl UserCommands {
///     /// Creates the user.
///     async fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
///         if user.exists() {
///             return Err(CommandError::new("user already exists"));
///         }
///         Ok(UserEvent::Created { name }.into())
///     }
///
///     async fn disable(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
///         // One event, a `Vec` of them, an `Option`, or `Events::none()`.
///         Ok(user.enabled.then_some(UserEvent::Disabled).into())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let domain = Domain::new(MemoryStore::new());
/// let users = domain.commands(UserCommands);
/// let alice = users.create("alice", "Alice".into()).await?; // the aggregate after it
/// assert_eq!((alice.version, alice.name.as_str()), (1, "Alice"));
///
/// // The same command as JSON, from HTTP or a queue:
/// let command: UserCommand = serde_json::from_str(r#"{"type":"disable"}"#).unwrap();
/// assert!(!users.execute("alice", &command).await?.enabled);
/// // The JSON `type` of every command, to tell an unknown command from a malformed one:
/// assert_eq!(UserCommand::TYPES, ["create", "disable"]);
/// # Ok::<_, evtstore::Error>(())
/// # }).unwrap();
/// ```
///
/// # Rules
/// - The argument names the event enum the commands append: `#[command(UserEvent)]`.
/// - Every `async fn`, and every method taking `self`, is a command. It is `async`, takes
///   `&self`, then the aggregate as loaded (`&Agg<State>`), then its inputs, and returns
///   `CommandResult<UserEvent>`. Inputs are owned, named parameters: they become the fields
///   of the command enum. Associated functions that are neither (`fn new() -> Self`) stay as
///   they are; helper methods taking `self` belong in another impl block.
/// - `self` can carry services, such as a [`Domain`] clone to check another aggregate. For a
///   command set generic over the store, write the impl block generic:
///   `#[command(PostEvent)] impl<S: Store> PostCommands<S> { .. }` holding a `Domain<S>`.
/// - A command cannot be named like a method of [`Commands`] (`execute`, `execute_with`,
///   `load`, `command_set`, `domain`, `metadata`, `with_metadata`), which would shadow it.
/// - `#[serde(..)]` attributes and doc comments on an input move to its field of the command
///   enum: `#[serde(default)] tags: Vec<String>` makes `tags` optional in JSON.
/// - Inputs must be `Serialize` and `Deserialize` (they are fields of the command enum): a type
///   that is not is reported in one sentence on the input, through the field's
///   `serialize_with`/`deserialize_with` helpers. Inputs spelled `Option<..>` (which serde
///   reads as absent when missing) and inputs with their own `with` attributes are left to
///   serde's own messages.
/// - A parameter typed `&Metadata`, anywhere after the aggregate, is not an input: it receives
///   the [`Metadata`] the command is executed with (who acts, the correlation id), so that a
///   rule can depend on the actor. Set it with [`Commands::with_metadata`] (the typed entry
///   points then use it) or [`Commands::execute_with`]; it is stored with the events.
///
///   ```
///   # use evtstore::doc_fixtures::{User, UserEvent};
///   use evtstore::prelude::*;
///
///   pub struct AccountCommands;
///
///   #[command(UserEvent)]
///   impl AccountCommands {
///       /// Only the user themself may disable their account.
///       async fn disable(&self, user: &Agg<User>, acting: &Metadata) -> CommandResult<UserEvent> {
///           if acting.user.as_deref() != Some(user.aggregate_id.as_str()) {
///               return Err(CommandError::new("only the user may disable their account"));
///           }
///           Ok(UserEvent::Disabled.into())
///       }
///   }
///
///   # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///   let accounts = Domain::new(MemoryStore::new()).commands(AccountCommands);
///   assert!(accounts.disable("alice").await.is_err());
///   let alice = Metadata { user: Some("alice".into()), ..Metadata::default() };
///   accounts.with_metadata(alice).disable("alice").await?;
///   # Ok::<_, evtstore::Error>(())
///   # }).unwrap();
///   ```
///
/// # What it generates
/// The impl block stays as written. For `UserCommands` (the enum's name drops the trailing
/// `s`; other names get `Command` appended, e.g. `Users` -> `UsersCommand`; choose with
/// `#[command(UserEvent, name = UserCmd)]`) it adds this hand-written code. The command enum
/// and the trait are `pub`, so that commands can be built and executed from anywhere the
/// command set is visible; the trait names the state through an associated type, so only the
/// command inputs' types need to be as visible. Choose another visibility with
/// `#[command(UserEvent, vis = pub(crate))]`.
///
/// ```
/// # #![allow(dead_code)]
/// # use evtstore::doc_fixtures::{User, UserEvent};
/// # use evtstore::prelude::*;
/// # pub struct UserCommands;
/// # impl UserCommands {
/// #     async fn create(&self, _: &Agg<User>, name: String) -> CommandResult<UserEvent> {
/// #         Ok(UserEvent::Created { name }.into())
/// #     }
/// #     async fn disable(&self, _: &Agg<User>) -> CommandResult<UserEvent> {
/// #         Ok(UserEvent::Disabled.into())
/// #     }
/// # }
/// use std::future::Future;
/// use evtstore::{Commands, Error};
/// use serde::{Deserialize, Serialize};
///
/// /// In JSON: `{"type": "create", "name": "Alice"}`; variant and field names are camelCase.
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// #[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
/// pub enum UserCommand {
///     /// Creates the user.
///     Create { name: String },
///     Disable,
/// }
///
/// impl UserCommand {
///     /// The `type` of each command of `UserCommands` in JSON, in declaration order.
///     pub const TYPES: &'static [&'static str] = &["create", "disable"];
/// }
///
/// impl CommandSet for UserCommands {
///     type Aggregate = UserEvent;
///     type Command = UserCommand;
///
///     async fn decide(&self, aggregate: &Agg<User>, command: &UserCommand)
///         -> CommandResult<UserEvent> {
///         match command {
///             UserCommand::Create { name } => self.create(aggregate, name.clone()).await,
///             UserCommand::Disable => self.disable(aggregate).await,
///         }
///     }
/// }
///
/// /// The typed entry points; bring the trait into scope to call them.
/// pub trait UserCommandsExt {
///     /// `User`; an associated type keeps the trait's signatures free of private types.
///     type State;
///     fn create(&self, aggregate_id: &str, name: String)
///         -> impl Future<Output = Result<Agg<Self::State>, Error>> + Send;
///     fn disable(&self, aggregate_id: &str)
///         -> impl Future<Output = Result<Agg<Self::State>, Error>> + Send;
/// }
///
/// impl<S: Store> UserCommandsExt for Commands<S, UserCommands> {
///     type State = User;
///
///     async fn create(&self, aggregate_id: &str, name: String) -> Result<Agg<User>, Error> {
///         self.execute(aggregate_id, &UserCommand::Create { name }).await
///     }
///     async fn disable(&self, aggregate_id: &str) -> Result<Agg<User>, Error> {
///         self.execute(aggregate_id, &UserCommand::Disable).await
///     }
/// }
/// ```
pub use evtstore_macros::command;

/// The names most programs need, for `use evtstore::prelude::*`.
pub mod prelude {
    pub use crate::{
        Agg, Aggregate, CommandError, CommandResult, CommandSet, Domain, EventMeta, Events,
        HandledBy, HandlerOptions, HandlerResult, MemoryStore, MemoryTransaction, Metadata,
        ProjectedBy, Store, command,
    };
}

/// Support for code generated by `evtstore-macros`; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use serde_json;

    use crate::{Agg, Aggregate, CommandResult, HandlerResult, Snapshots};

    /// What a handler method that is not implemented returns: nothing to do.
    pub fn unhandled() -> core::future::Ready<HandlerResult> {
        core::future::ready(Ok(()))
    }

    /// A state that `persist = ".."` can keep as a JSON snapshot. Exists for its message: a
    /// state without serde reads as one error at the `persist` tag.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be kept as a snapshot: `persist` needs a state that is `Serialize` and `Deserialize`",
        label = "the state must be `Serialize` and `Deserialize` to persist it",
        note = "derive `Serialize` and `Deserialize` for `{Self}`, or remove `persist`"
    )]
    pub trait SnapshotState: serde::Serialize + serde::de::DeserializeOwned {}

    #[diagnostic::do_not_recommend]
    impl<S: serde::Serialize + serde::de::DeserializeOwned> SnapshotState for S {}

    /// The aggregate a command of `E` receives. Exists for its message: a command taking the
    /// aggregate of another stream reads as one error at its parameter.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not the aggregate of `{E}`",
        label = "the commands of `{E}` take `&Agg<State>`, its state as loaded",
        note = "`State` is the `state = ..` of `#[aggregate(..)]` on `{E}`"
    )]
    pub trait AggregateOf<E: Aggregate> {
        /// The loaded aggregate, as the command's parameter type.
        fn from_loaded(loaded: &Agg<E::State>) -> &Self;
    }

    #[diagnostic::do_not_recommend]
    impl<S, E: Aggregate<State = S>> AggregateOf<E> for Agg<S> {
        fn from_loaded(loaded: &Agg<S>) -> &Self {
            loaded
        }
    }

    /// Hands the loaded aggregate to a command method expecting `&A`.
    pub fn aggregate_of<E: Aggregate, A: AggregateOf<E>>(loaded: &Agg<E::State>) -> &A {
        A::from_loaded(loaded)
    }

    /// What a command of `E` returns. Exists for its message: a command returning another
    /// aggregate's events reads as one error at its return type.
    #[diagnostic::on_unimplemented(
        message = "a command of `{E}` returns `CommandResult<{E}>`, not `{Self}`",
        label = "not `CommandResult<{E}>`"
    )]
    pub trait DecisionOf<E> {
        /// The decision.
        fn into_decision(self) -> CommandResult<E>;
    }

    impl<E: Aggregate> DecisionOf<E> for CommandResult<E> {
        fn into_decision(self) -> Self {
            self
        }
    }

    /// Passes a command method's result on as the decision of `E`.
    pub fn decided<E: Aggregate, R: DecisionOf<E>>(result: R) -> CommandResult<E> {
        result.into_decision()
    }

    /// Checks, when the crate compiles, that every upcaster of an enum of schema `schema` reads
    /// a schema from 1 to `schema - 1`: another one would never run.
    pub const fn check_upcasters(upcasters: &[crate::Upcaster], schema: u32) {
        let mut index = 0;
        while index < upcasters.len() {
            let from = upcasters[index].from_schema;
            assert!(
                from >= 1 && from < schema,
                "an upcaster reads a schema outside 1 to the enum's `schema` - 1, so it would \
                 never run"
            );
            index += 1;
        }
    }

    /// Hands the call's metadata to a command method's `&Metadata` parameter: the call is
    /// spanned at that parameter's type, so a `Metadata` that is not evtstore's is reported
    /// there.
    #[must_use]
    pub fn metadata_param(metadata: &crate::Metadata) -> &crate::Metadata {
        metadata
    }

    /// [`Snapshots::json`] for the derive's `persist = ".."`.
    #[must_use]
    pub const fn snapshots<S: SnapshotState>(tag: &'static str) -> Option<Snapshots<S>> {
        Some(Snapshots::json(tag))
    }
}
