//! Given/when/then fixtures: a command's rules and a handler's read model tested without a
//! database.
//!
//! Both run on a fresh [`MemoryStore`], through the same [`Domain`] code a service runs, so
//! that a test exercises the real load, decide, append and handling path. Failures panic with
//! the expected and the actual events side by side, for `#[test]`s and `#[tokio::test]`s.
//!
//! A command, given the events already stored, refused or not:
//!
//! ```
//! # use evtstore::doc_fixtures::{UserCommand, UserCommands, UserEvent};
//! use evtstore::testing::CommandTest;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! CommandTest::new(UserCommands)
//!     .given("alice", [UserEvent::Created { name: "Alice".into() }])
//!     .when("alice", &UserCommand::Disable)
//!     .await
//!     .then_events([UserEvent::Disabled]);
//!
//! CommandTest::new(UserCommands)
//!     .given("alice", [UserEvent::Created { name: "Alice".into() }])
//!     .when("alice", &UserCommand::Create { name: "Alice".into() })
//!     .await
//!     .then_refused("user exists");
//! # });
//! ```
//!
//! A handler, given events, builds its read model (here a count of created users, whose
//! `HandledBy` impl is in the [`HandledBy`](crate::HandledBy) docs):
//!
//! ```
//! # use evtstore::doc_fixtures::{CreatedUsers, UserEvent};
//! use std::sync::atomic::Ordering;
//! use evtstore::testing::HandlerTest;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let created = HandlerTest::new(CreatedUsers::default())
//!     .given("alice", [UserEvent::Created { name: "Alice".into() }, UserEvent::Disabled])
//!     .given("bob", [UserEvent::Created { name: "Bob".into() }])
//!     .handle(|handler| handler.stream::<UserEvent>())
//!     .await;
//! assert_eq!(created.model().0.load(Ordering::Relaxed), 2);
//! # });
//! ```

use std::fmt;

use crate::aggregate::{Agg, Aggregate};
use crate::command::CommandSet;
use crate::domain::Domain;
use crate::error::Error;
use crate::event::{Append, Metadata, NewEvent, Timestamp};
use crate::handler::{EventHandler, HandlerBuilder};
use crate::memory::MemoryStore;
use crate::store::Store;
use crate::upcast::encode;

/// Events to store before the test acts: one aggregate's, encoded as a writer would.
#[derive(Debug)]
struct GivenEvents {
    stream: &'static str,
    aggregate_id: String,
    events: Vec<(&'static str, String)>,
}

/// The events stored before a fixture acts, appended in the order they were given.
#[derive(Debug, Default)]
struct Given(Vec<GivenEvents>);

impl Given {
    /// Adds the events of `aggregate_id`; panics (the test's mistake) when one does not
    /// encode.
    fn push<E: Aggregate>(&mut self, aggregate_id: &str, events: impl IntoIterator<Item = E>) {
        let events = events
            .into_iter()
            .map(|event| {
                let json = encode(&event).unwrap_or_else(|error| {
                    panic!(
                        "a given event of {}/{aggregate_id} does not encode: {error}",
                        E::STREAM
                    )
                });
                (event.event_type(), json)
            })
            .collect();
        self.0.push(GivenEvents {
            stream: E::STREAM,
            aggregate_id: aggregate_id.to_owned(),
            events,
        });
    }

    /// Appends every given event to `store`, each aggregate's after those given before.
    async fn store(self, store: &MemoryStore) {
        for given in self.0 {
            let before = store
                .load(given.stream, &given.aggregate_id, 0)
                .await
                .map_or(0, |events| events.len() as u64);
            let events: Vec<NewEvent> = given
                .events
                .into_iter()
                .zip(before + 1..)
                .map(|((event_type, event), version)| NewEvent {
                    version,
                    event_type,
                    event,
                })
                .collect();
            let appended = store
                .append(Append {
                    stream: given.stream,
                    aggregate_id: &given.aggregate_id,
                    events: &events,
                    timestamp: Timestamp::now(),
                    metadata: None,
                })
                .await;
            if let Err(error) = appended {
                panic!(
                    "the given events of {}/{} could not be stored: {error}",
                    given.stream, given.aggregate_id
                );
            }
        }
    }
}

/// Given stored events, when a command runs, then these events or this refusal: a command
/// set's rules tested on a [`MemoryStore`]. See the [module docs](self).
pub struct CommandTest<C> {
    domain: Domain<MemoryStore>,
    commands: C,
    given: Given,
    metadata: Metadata,
}

impl<C> fmt::Debug for CommandTest<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandTest")
            .field("commands", &std::any::type_name::<C>())
            .field("given", &self.given)
            .finish_non_exhaustive()
    }
}

impl<C: CommandSet> CommandTest<C> {
    /// A test of `commands` on an empty store.
    pub fn new(commands: C) -> Self {
        CommandTest {
            domain: Domain::new(MemoryStore::new()),
            commands,
            given: Given::default(),
            metadata: Metadata::default(),
        }
    }

    /// A test of a command set that needs the domain it runs on (to load other aggregates):
    /// `make` builds it from the test's domain.
    pub fn with_domain(make: impl FnOnce(&Domain<MemoryStore>) -> C) -> Self {
        let domain = Domain::new(MemoryStore::new());
        let commands = make(&domain);
        CommandTest {
            domain,
            commands,
            given: Given::default(),
            metadata: Metadata::default(),
        }
    }

    /// Events already stored for `aggregate_id`, of any stream (the command's own, or one it
    /// loads). Several calls add up, in order.
    ///
    /// # Panics
    /// When an event does not encode as JSON.
    #[must_use]
    pub fn given<E: Aggregate>(
        mut self,
        aggregate_id: &str,
        events: impl IntoIterator<Item = E>,
    ) -> Self {
        self.given.push(aggregate_id, events);
        self
    }

    /// The metadata the command runs with (who acts, the correlation id), for rules that
    /// depend on it: what a `&Metadata` parameter of a `#[command]` method receives.
    #[must_use]
    pub fn acting_with(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Stores the given events, then runs `command` on `aggregate_id`, with the metadata of
    /// [`acting_with`](Self::acting_with) if any; the outcome says what
    /// it appended or why it did not.
    ///
    /// # Panics
    /// When a given event cannot be stored.
    pub async fn when(
        self,
        aggregate_id: &str,
        command: &C::Command,
    ) -> CommandOutcome<C::Aggregate> {
        self.given.store(self.domain.store()).await;
        // History reads the store, never the cache: what the command appended is what
        // follows the given events.
        let before = self
            .domain
            .history::<C::Aggregate>(aggregate_id)
            .await
            .map_or(0, |history| history.len());
        let result = self
            .domain
            .commands(self.commands)
            .execute_with(aggregate_id, command, &self.metadata)
            .await;
        let appended = self
            .domain
            .history::<C::Aggregate>(aggregate_id)
            .await
            .map(|history| {
                history
                    .into_iter()
                    .skip(before)
                    .map(|recorded| recorded.event)
                    .collect()
            })
            .unwrap_or_default();
        CommandOutcome {
            command: format!("{command:?}"),
            aggregate_id: aggregate_id.to_owned(),
            result,
            appended,
        }
    }
}

/// What a command did in a [`CommandTest`]: check it with the `then_` methods, or read it.
pub struct CommandOutcome<A: Aggregate> {
    command: String,
    aggregate_id: String,
    /// The command's result: the aggregate after it, or its error.
    pub result: Result<Agg<A::State>, Error>,
    /// The events it appended, in order.
    pub appended: Vec<A>,
}

impl<A: Aggregate + fmt::Debug> fmt::Debug for CommandOutcome<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandOutcome")
            .field("command", &self.command)
            .field("aggregate_id", &self.aggregate_id)
            .field("error", &self.result.as_ref().err())
            .field("appended", &self.appended)
            .finish()
    }
}

impl<A: Aggregate + PartialEq + fmt::Debug> CommandOutcome<A> {
    /// The command appended exactly `expected`, in order; returns the aggregate after it.
    ///
    /// # Panics
    /// With the expected and the actual events (or the command's error) when they differ.
    #[track_caller]
    pub fn then_events(self, expected: impl IntoIterator<Item = A>) -> Agg<A::State> {
        let expected: Vec<A> = expected.into_iter().collect();
        match self.result {
            Ok(agg) if self.appended == expected => agg,
            Ok(_) => panic!(
                "{} on {}/{} appended other events than expected\n\
                 expected: {expected:#?}\n\
                 actual:   {:#?}",
                self.command,
                A::STREAM,
                self.aggregate_id,
                self.appended
            ),
            Err(error) => panic!(
                "{} on {}/{} failed instead of appending events\n\
                 expected: {expected:#?}\n\
                 error:    {error}",
                self.command,
                A::STREAM,
                self.aggregate_id
            ),
        }
    }

    /// The command succeeded without appending anything; returns the aggregate.
    ///
    /// # Panics
    /// With the events it appended, or its error.
    #[track_caller]
    pub fn then_no_events(self) -> Agg<A::State> {
        self.then_events([])
    }

    /// The command was refused by the application's rules, with a message containing
    /// `message` (or with that code, when the refusal has one), and appended nothing.
    ///
    /// # Panics
    /// When it succeeded (with the events it appended), failed otherwise, or was refused
    /// for another reason.
    #[track_caller]
    pub fn then_refused(self, message: &str) {
        let refusal = match &self.result {
            Err(Error::Command { source, .. }) => source,
            Ok(_) => panic!(
                "{} on {}/{} was expected to be refused ({message:?}) but succeeded\n\
                 appended: {:#?}",
                self.command,
                A::STREAM,
                self.aggregate_id,
                self.appended
            ),
            Err(error) => panic!(
                "{} on {}/{} was expected to be refused ({message:?}) but failed: {error}",
                self.command,
                A::STREAM,
                self.aggregate_id
            ),
        };
        let matches = refusal.message.contains(message) || refusal.code.as_deref() == Some(message);
        assert!(
            matches,
            "{} on {}/{} was refused for another reason\n\
             expected: {message:?}\n\
             actual:   {:?} (code {:?})",
            self.command,
            A::STREAM,
            self.aggregate_id,
            refusal.message,
            refusal.code
        );
    }
}

/// Given stored events, then this read model: a handler run over them on a [`MemoryStore`].
/// See the [module docs](self).
pub struct HandlerTest<H> {
    model: H,
    given: Given,
}

impl<H> fmt::Debug for HandlerTest<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerTest")
            .field("model", &std::any::type_name::<H>())
            .field("given", &self.given)
            .finish()
    }
}

impl<H: crate::HandlerModel> HandlerTest<H> {
    /// A test of `model` on an empty store.
    pub fn new(model: H) -> Self {
        HandlerTest {
            model,
            given: Given::default(),
        }
    }

    /// Events stored for `aggregate_id`, of any stream, in the order given (which is the
    /// order the handler sees them in).
    ///
    /// # Panics
    /// When an event does not encode as JSON.
    #[must_use]
    pub fn given<E: Aggregate>(
        mut self,
        aggregate_id: &str,
        events: impl IntoIterator<Item = E>,
    ) -> Self {
        self.given.push(aggregate_id, events);
        self
    }

    /// Stores the given events, builds the handler with `build` (its streams and options,
    /// `|handler| handler.stream::<UserEvent>()`), and runs it until every event is handled;
    /// returns it, to read its [`model`](EventHandler::model).
    ///
    /// # Panics
    /// When the handler fails on an event, with the handler's error (it names the event).
    pub async fn handle(
        self,
        build: impl FnOnce(HandlerBuilder<MemoryStore, H>) -> HandlerBuilder<MemoryStore, H>,
    ) -> EventHandler<MemoryStore, H> {
        let store = MemoryStore::new();
        self.given.store(&store).await;
        let handler = build(
            Domain::new(store)
                .handler("test", self.model)
                .bookmark_in_memory(),
        )
        .build();
        if let Err(error) = handler.run_once().await {
            panic!("the handler failed on the given events: {error}");
        }
        handler
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc_fixtures::{CreatedUsers, UserCommand, UserCommands, UserEvent};

    fn alice() -> UserEvent {
        UserEvent::Created {
            name: "Alice".into(),
        }
    }

    async fn disable_alice() -> CommandOutcome<UserEvent> {
        CommandTest::new(UserCommands)
            .given("alice", [alice()])
            .when("alice", &UserCommand::Disable)
            .await
    }

    #[tokio::test]
    async fn the_outcome_holds_what_the_command_appended() {
        let outcome = disable_alice().await;
        assert_eq!(outcome.appended, [UserEvent::Disabled]);
        let agg = outcome.then_events([UserEvent::Disabled]);
        assert_eq!((agg.version, agg.enabled), (2, false));
    }

    #[tokio::test]
    #[should_panic(expected = "Disable on users/alice appended other events than expected")]
    async fn other_events_fail_with_both_lists() {
        disable_alice().await.then_events([UserEvent::Enabled]);
    }

    #[tokio::test]
    #[should_panic(expected = "was expected to be refused (\"user exists\") but succeeded")]
    async fn a_success_is_not_a_refusal() {
        disable_alice().await.then_refused("user exists");
    }

    #[tokio::test]
    #[should_panic(expected = "failed instead of appending events")]
    async fn a_refusal_is_not_events() {
        CommandTest::new(UserCommands)
            .given("alice", [alice()])
            .when("alice", &UserCommand::Create { name: "A".into() })
            .await
            .then_events([alice()]);
    }

    #[tokio::test]
    #[should_panic(expected = "was refused for another reason")]
    async fn a_refusal_for_another_reason_fails() {
        CommandTest::new(UserCommands)
            .given("alice", [alice()])
            .when("alice", &UserCommand::Create { name: "A".into() })
            .await
            .then_refused("no such user");
    }

    #[tokio::test]
    async fn given_events_of_one_aggregate_add_up() {
        let outcome = CommandTest::new(UserCommands)
            .given("alice", [alice()])
            .given("alice", [UserEvent::Disabled])
            .when("alice", &UserCommand::Disable)
            .await;
        let agg = outcome.then_no_events();
        assert_eq!(agg.version, 2);
    }

    #[tokio::test]
    async fn a_handler_sees_every_given_event() {
        let handled = HandlerTest::new(CreatedUsers::default())
            .given("alice", [alice(), UserEvent::Disabled])
            .given("bob", [alice()])
            .handle(|handler| handler.stream::<UserEvent>())
            .await;
        assert_eq!(
            handled.model().0.load(std::sync::atomic::Ordering::Relaxed),
            2
        );
    }
}
