//! Commands: load an aggregate, decide, append what was decided. This module owns the whole
//! algorithm: the public types here, execution and retries in `execute`, loads, replays and
//! snapshots in `load`, appends in `append`.

mod append;
mod execute;
mod load;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::aggregate::{Agg, Aggregate};
use crate::domain::Domain;
use crate::error::{CommandError, Error};
use crate::event::Metadata;
use crate::store::Store;

/// What a command returns: the events it decided on (none, one or several), or a refusal.
pub type CommandResult<A> = Result<Events<A>, CommandError>;

/// The events a command decided on, appended all or none. Build it from one event, a `Vec`, an
/// `Option`, or [`Events::none`].
///
/// ```
/// # use evtstore::doc_fixtures::UserEvent;
/// use evtstore::Events;
///
/// let one: Events<UserEvent> = UserEvent::Disabled.into();
/// let two: Events<UserEvent> = vec![UserEvent::Enabled, UserEvent::Disabled].into();
/// let none: Events<UserEvent> = Events::none();
/// assert_eq!((one.len(), two.len(), none.len()), (1, 2, 0));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Events<A>(Vec<A>);

impl<A> Events<A> {
    /// No event: the command changes nothing and returns the aggregate as it was.
    #[must_use]
    pub fn none() -> Self {
        Events(Vec::new())
    }

    /// How many events there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no event.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The events, in the order they will be appended.
    #[must_use]
    pub fn into_vec(self) -> Vec<A> {
        self.0
    }
}

impl<A> Default for Events<A> {
    fn default() -> Self {
        Self::none()
    }
}

impl<A: Aggregate> From<A> for Events<A> {
    fn from(event: A) -> Self {
        Events(vec![event])
    }
}

impl<A> From<Vec<A>> for Events<A> {
    fn from(events: Vec<A>) -> Self {
        Events(events)
    }
}

impl<A> From<Option<A>> for Events<A> {
    fn from(event: Option<A>) -> Self {
        Events(event.into_iter().collect())
    }
}

impl<A> FromIterator<A> for Events<A> {
    fn from_iter<I: IntoIterator<Item = A>>(events: I) -> Self {
        Events(events.into_iter().collect())
    }
}

/// A set of commands on one aggregate: decides, for a command and the current aggregate, which
/// events to append.
///
/// `#[command]` on an impl block writes this impl, the command enum and typed entry points; by
/// hand it reads:
///
/// ```
/// # use evtstore::doc_fixtures::{User, UserEvent};
/// use evtstore::{Agg, CommandError, CommandResult, CommandSet, Events};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// #[serde(tag = "type", rename_all = "camelCase")]
/// pub enum UserCommand {
///     Create { name: String },
///     Disable,
/// }
///
/// pub struct UserCommands;
///
/// impl CommandSet for UserCommands {
///     type Aggregate = UserEvent;
///     type Command = UserCommand;
///
///     async fn decide(&self, user: &Agg<User>, command: &UserCommand) -> CommandResult<UserEvent> {
///         match command {
///             UserCommand::Create { name } if user.exists() => {
///                 Err(CommandError::new(format!("user {name} already exists")))
///             }
///             UserCommand::Create { name } => Ok(UserEvent::Created { name: name.clone() }.into()),
///             UserCommand::Disable if !user.enabled => Ok(Events::none()),
///             UserCommand::Disable => Ok(UserEvent::Disabled.into()),
///         }
///     }
/// }
///
/// let domain = evtstore::Domain::new(evtstore::MemoryStore::new());
/// let users = domain.commands(UserCommands);
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let alice = users.execute("alice", &UserCommand::Create { name: "Alice".into() }).await?;
/// assert_eq!(alice.version, 1);
/// let alice = users.execute("alice", &UserCommand::Disable).await?;
/// assert!(!alice.enabled);
/// # Ok::<_, evtstore::Error>(())
/// # }).unwrap();
/// ```
pub trait CommandSet: Send + Sync + 'static {
    /// The aggregate (event enum) the commands act on.
    type Aggregate: Aggregate;
    /// The command type; usually a serde enum so commands can arrive over HTTP or a queue.
    type Command: Send + Sync + fmt::Debug;

    /// Decides which events the command produces on the aggregate as loaded. It may be called
    /// again with a reloaded aggregate when another writer appended in between.
    fn decide(
        &self,
        aggregate: &Agg<<Self::Aggregate as Aggregate>::State>,
        command: &Self::Command,
    ) -> impl Future<Output = CommandResult<Self::Aggregate>> + Send;

    /// Decides like [`decide`](Self::decide), knowing the metadata the command was executed
    /// with: who acts, on whose behalf, as part of what ([`Commands::with_metadata`],
    /// [`Commands::execute_with`]). This is what execution calls. The default ignores the
    /// metadata and calls `decide`; `#[command]` implements it, handing the metadata to every
    /// method that takes a `&Metadata` parameter.
    ///
    /// ```
    /// # use evtstore::doc_fixtures::{User, UserEvent};
    /// use evtstore::{Agg, CommandError, CommandResult, CommandSet, Domain, MemoryStore, Metadata};
    ///
    /// /// Only the user themself may disable their account.
    /// pub struct Disable;
    ///
    /// impl CommandSet for Disable {
    ///     type Aggregate = UserEvent;
    ///     type Command = ();
    ///
    ///     async fn decide(&self, user: &Agg<User>, command: &()) -> CommandResult<UserEvent> {
    ///         self.decide_with(user, command, &Metadata::default()).await
    ///     }
    ///
    ///     async fn decide_with(&self, user: &Agg<User>, _: &(), metadata: &Metadata)
    ///         -> CommandResult<UserEvent>
    ///     {
    ///         if metadata.user.as_deref() != Some(user.aggregate_id.as_str()) {
    ///             return Err(CommandError::new("only the user may disable their account"));
    ///         }
    ///         Ok(UserEvent::Disabled.into())
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let domain = Domain::new(MemoryStore::new());
    /// let disable = domain.commands(Disable);
    /// assert!(disable.execute("alice", &()).await.is_err());
    /// let as_alice = Metadata { user: Some("alice".into()), ..Metadata::default() };
    /// disable.with_metadata(as_alice).execute("alice", &()).await?;
    /// # Ok::<_, evtstore::Error>(())
    /// # }).unwrap();
    /// ```
    fn decide_with(
        &self,
        aggregate: &Agg<<Self::Aggregate as Aggregate>::State>,
        command: &Self::Command,
        metadata: &Metadata,
    ) -> impl Future<Output = CommandResult<Self::Aggregate>> + Send {
        let _ = metadata;
        self.decide(aggregate, command)
    }

    /// The name of a command, for the `command` field of the span each execution runs in
    /// ([`Domain::execute`] lists its fields). `None`, the default, leaves the field empty.
    ///
    /// It is called only when a subscriber records the span, but then for every command:
    /// return a `&'static str` (the variant's name), never a formatted string. A name stands
    /// for the command and carries none of its inputs, which may be personal data.
    fn command_name(&self, _command: &Self::Command) -> Option<&'static str> {
        None
    }
}

/// A command set bound to a domain: executes commands and returns the new aggregate.
pub struct Commands<S, C> {
    domain: Domain<S>,
    commands: Arc<C>,
    /// What [`execute`](Self::execute) and the typed entry points store with the events and
    /// hand to the decision ([`with_metadata`](Self::with_metadata)).
    metadata: Arc<Metadata>,
}

impl<S: Clone, C> Clone for Commands<S, C> {
    fn clone(&self) -> Self {
        Commands {
            domain: self.domain.clone(),
            commands: Arc::clone(&self.commands),
            metadata: Arc::clone(&self.metadata),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for Commands<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commands")
            .field("domain", &self.domain)
            .field("commands", &std::any::type_name::<C>())
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl<S: Store> Domain<S> {
    /// Binds a command set to this domain.
    pub fn commands<C: CommandSet>(&self, commands: C) -> Commands<S, C> {
        Commands::new(self.clone(), commands)
    }
}

impl<S: Store, C: CommandSet> Commands<S, C> {
    pub(crate) fn new(domain: Domain<S>, commands: C) -> Self {
        Commands {
            domain,
            commands: Arc::new(commands),
            metadata: Arc::default(),
        }
    }

    /// The same commands, executed with `metadata`: [`execute`](Self::execute) and the typed
    /// entry points that `#[command]` generates store it with every event they append, and
    /// hand it to the decision ([`CommandSet::decide_with`], a `&Metadata` parameter of a
    /// `#[command]` method). Cheap: the command set is shared, not copied. A web service makes
    /// one per request, with the acting user; a handler one per event, with
    /// [`Metadata::caused_by`]. A [`command_id`](Metadata::command_id) in it makes every
    /// command executed through the returned value that one command: after the first, the
    /// others on the same aggregate append nothing. Give an id only to execute one command
    /// (or use [`execute_with`](Self::execute_with)).
    ///
    /// ```
    /// # use evtstore::doc_fixtures::{UserCommand, UserCommands};
    /// use evtstore::{Domain, MemoryStore, Metadata};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let domain = Domain::new(MemoryStore::new());
    /// let users = domain.commands(UserCommands);
    /// let request = Metadata { user: Some("admin".into()), ..Metadata::default() };
    /// users.with_metadata(request).execute("alice", &UserCommand::Create { name: "Alice".into() }).await?;
    /// let history = domain.history::<evtstore::doc_fixtures::UserEvent>("alice").await?;
    /// assert_eq!(history[0].meta.metadata.user.as_deref(), Some("admin"));
    /// # Ok::<_, evtstore::Error>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_metadata(&self, metadata: Metadata) -> Self {
        Commands {
            domain: self.domain.clone(),
            commands: Arc::clone(&self.commands),
            metadata: Arc::new(metadata),
        }
    }

    /// The metadata [`execute`](Self::execute) runs with (empty unless set by
    /// [`with_metadata`](Self::with_metadata)).
    #[must_use]
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Executes a command on the aggregate `aggregate_id` and returns the aggregate after it,
    /// with the metadata of [`with_metadata`](Self::with_metadata), if any.
    ///
    /// # Errors
    /// [`Error::Command`] when the command refuses, [`Error::VersionConflict`] when other
    /// writers won every retry, and the store's errors.
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: &C::Command,
    ) -> Result<Agg<<C::Aggregate as Aggregate>::State>, Error> {
        self.domain
            .execute(&*self.commands, aggregate_id, command, &self.metadata)
            .await
    }

    /// Executes a command like [`execute`](Self::execute), with `metadata` (instead of that of
    /// [`with_metadata`](Self::with_metadata)): stored with its events and handed to the
    /// decision.
    ///
    /// With a [`command_id`](Metadata::command_id) the command is idempotent per aggregate:
    /// when events of the aggregate already carry that id, nothing is decided or appended and
    /// the aggregate is returned as that first execution left it. A retry after a lost
    /// response, from any process, is then safe. Two executions of one id at the same time
    /// append once: the second loses the version race (the store's optimistic concurrency)
    /// and finds the first's events when it retries. A command that appended nothing (a
    /// refusal, no event) leaves no trace, so it is decided again. Checking the id reads the aggregate's whole history from the store.
    ///
    /// ```
    /// # use evtstore::doc_fixtures::{UserCommand, UserCommands};
    /// use evtstore::{Domain, MemoryStore, Metadata};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let users = Domain::new(MemoryStore::new()).commands(UserCommands);
    /// let create = UserCommand::Create { name: "Alice".into() };
    /// let once = Metadata { command_id: Some("req-41".into()), ..Metadata::default() };
    /// let alice = users.execute_with("alice", &create, &once).await?;
    /// // The same request again: not refused ("user exists"), and nothing appended.
    /// let again = users.execute_with("alice", &create, &once).await?;
    /// assert_eq!((alice.version, again.version), (1, 1));
    /// # Ok::<_, evtstore::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn execute_with(
        &self,
        aggregate_id: &str,
        command: &C::Command,
        metadata: &Metadata,
    ) -> Result<Agg<<C::Aggregate as Aggregate>::State>, Error> {
        self.domain
            .execute(&*self.commands, aggregate_id, command, metadata)
            .await
    }

    /// Loads an aggregate of this command set's stream.
    ///
    /// # Errors
    /// The store's errors, and [`Error::Decode`] for an event that does not decode.
    pub async fn load(
        &self,
        aggregate_id: &str,
    ) -> Result<Agg<<C::Aggregate as Aggregate>::State>, Error> {
        self.domain.load::<C::Aggregate>(aggregate_id).await
    }

    /// The command set itself, with whatever services it carries.
    #[must_use]
    pub fn command_set(&self) -> &C {
        &self.commands
    }

    /// The domain the commands run on.
    #[must_use]
    pub fn domain(&self) -> &Domain<S> {
        &self.domain
    }
}
