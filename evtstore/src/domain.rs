//! The domain: loads aggregates, executes commands and builds event handlers over one store.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::aggregate::{Agg, Aggregate, EventAt, Snapshot, decode_at};
use crate::cache::AggregateCache;
use crate::command::{CommandSet, Commands};
use crate::error::{DecodeError, Error};
use crate::event::{Append, EventMeta, Metadata, NewEvent, RecordedEvent, Timestamp};
use crate::handler::HandlerBuilder;
use crate::retry::retry_pause;
use crate::store::{Replayed, Store};

/// How a [`Domain`] runs commands.
///
/// Build it from the defaults, so that options added later keep the code compiling:
///
/// ```
/// use std::time::Duration;
/// use evtstore::DomainOptions;
///
/// let options = DomainOptions {
///     retries: 20,
///     retry_backoff: Duration::from_millis(5),
///     ..DomainOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainOptions {
    /// How many times a command is decided again after a version conflict before the conflict
    /// reaches the caller. Default 10: enough for a handful of writers contending for one
    /// aggregate, with the back-off below spreading their attempts apart.
    pub retries: u32,
    /// The longest wait before the first retry after a version conflict; the bound doubles
    /// with each further retry, up to [`retry_backoff_cap`](Self::retry_backoff_cap). Each
    /// wait is drawn at random between zero and its bound (exponential back-off with full
    /// jitter): writers that collided retry at different times instead of colliding again in
    /// step. Default 2 ms. `Duration::ZERO` retries at once.
    ///
    /// The wait is a `tokio::time::sleep`: with a non-zero back-off, commands that conflict
    /// need a runtime with its time driver enabled (`enable_time` or `enable_all`).
    pub retry_backoff: Duration,
    /// The longest wait between two attempts of one command, whatever the retry. Default
    /// 250 ms: long enough that the attempts of several writers on one aggregate (each a load
    /// and an append, a few milliseconds on a busy server) spread apart and mostly stop
    /// overlapping. With 50 ms, 8 writers on one MariaDB aggregate still ran out of retries
    /// now and then.
    pub retry_backoff_cap: Duration,
    /// How many aggregates the in-process cache keeps (0 turns it off). Default 10,000.
    pub cache_capacity: usize,
}

impl Default for DomainOptions {
    fn default() -> Self {
        DomainOptions {
            retries: 10,
            retry_backoff: Duration::from_millis(2),
            retry_backoff_cap: Duration::from_millis(250),
            cache_capacity: 10_000,
        }
    }
}

/// What one execution of a command did, for its span.
#[derive(Default)]
struct Tally {
    /// How many times the command was decided.
    attempts: u32,
    /// How many events it appended.
    events: usize,
}

/// An event with what the store knows about it, as returned by [`Domain::history`].
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded<A> {
    /// The decoded event.
    pub event: A,
    /// Its stream, aggregate, version, position, time and metadata.
    pub meta: EventMeta,
}

/// The entry point of an application: aggregates, commands and handlers over one store.
///
/// ```
/// # use evtstore::doc_fixtures::{UserCommands, UserCommand, UserEvent};
/// use evtstore::{Domain, MemoryStore};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let domain = Domain::new(MemoryStore::new());
/// let users = domain.commands(UserCommands);
/// let alice = users.execute("alice", &UserCommand::Create { name: "Alice".into() }).await?;
/// assert_eq!((alice.version, alice.name.as_str()), (1, "Alice"));
///
/// let history = domain.history::<UserEvent>("alice").await?;
/// assert_eq!(history[0].event, UserEvent::Created { name: "Alice".into() });
/// # Ok::<_, evtstore::Error>(())
/// # }).unwrap();
/// ```
pub struct Domain<S> {
    store: S,
    options: DomainOptions,
    cache: Arc<AggregateCache>,
}

impl<S: Clone> Clone for Domain<S> {
    fn clone(&self) -> Self {
        Domain {
            store: self.store.clone(),
            options: self.options,
            cache: Arc::clone(&self.cache),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Domain<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Domain")
            .field("store", &self.store)
            .field("options", &self.options)
            .finish()
    }
}

impl<S: Store> Domain<S> {
    /// A domain over `store` with the default options.
    pub fn new(store: S) -> Self {
        Self::with_options(store, DomainOptions::default())
    }

    /// A domain over `store` with the given options.
    pub fn with_options(store: S, options: DomainOptions) -> Self {
        Domain {
            store,
            options,
            cache: Arc::new(AggregateCache::new(options.cache_capacity)),
        }
    }

    /// The store the domain runs on.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The domain's options.
    pub fn options(&self) -> DomainOptions {
        self.options
    }

    /// Binds a command set to this domain.
    pub fn commands<C: CommandSet>(&self, commands: C) -> Commands<S, C> {
        Commands::new(self.clone(), commands)
    }

    /// Starts building an event handler whose bookmark is stored under `bookmark`, with `model`
    /// receiving the events.
    pub fn handler<H: Send + Sync + 'static>(
        &self,
        bookmark: impl Into<String>,
        model: H,
    ) -> HandlerBuilder<S, H> {
        HandlerBuilder::new(self.store.clone(), bookmark.into(), model)
    }

    /// Loads an aggregate: its snapshot when it has a current one, then the events after it.
    /// An unknown id loads as version 0 with the default state.
    ///
    /// # Errors
    /// The store's errors, and [`Error::Decode`] for an event that does not decode.
    pub async fn load<A: Aggregate>(&self, aggregate_id: &str) -> Result<Agg<A::State>, Error> {
        let agg = match self.cache.get::<A::State>(A::STREAM, aggregate_id) {
            Some(cached) => self.replay::<A>(cached, false).await?,
            None => self.replay::<A>(Agg::new(aggregate_id), true).await?,
        };
        self.cache.put(A::STREAM, &agg);
        Ok(agg)
    }

    /// Every event of an aggregate, in version order.
    ///
    /// # Errors
    /// The store's errors, and [`Error::Decode`] for an event that does not decode.
    pub async fn history<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<Recorded<A>>, Error> {
        let recorded = self.store.load(A::STREAM, aggregate_id, 0).await?;
        recorded
            .into_iter()
            .zip(0..)
            .map(|(recorded, before)| {
                let (version, position) = (recorded.version, recorded.cursor.position);
                check_next_version(A::STREAM, aggregate_id, before, version, position)?;
                let event = A::decode(&recorded)?;
                let meta = event_meta(A::STREAM, recorded)?;
                Ok(Recorded { event, meta })
            })
            .collect()
    }

    /// Executes a command of `commands` on an aggregate: loads it, decides, appends the events
    /// at the versions after the loaded one, and returns the aggregate after them.
    ///
    /// The aggregate comes from the cache when it is there, which may be behind the store when
    /// another process appended to it. What the command is decided on follows one rule:
    /// - A decision that appends nothing (a refusal, or no event) is always taken on the
    ///   current state. When it was taken on a cached aggregate, the events appended since
    ///   are read (only those: the cache knows its version) and, if there are any, the
    ///   command is decided again on the aggregate with them.
    /// - A decision that appends is checked by the store's optimistic concurrency: appending
    ///   at a version that exists is a version conflict, and the command is reloaded and
    ///   decided again, up to [`DomainOptions::retries`] times, after a random wait that grows
    ///   with each retry ([`DomainOptions::retry_backoff`]).
    ///
    /// # Tracing
    /// The command runs in an INFO span `evtstore.command` with the fields `stream`,
    /// `aggregate_id`, `command` (the [`CommandSet::command_name`], when it gives one), and,
    /// recorded when the command ends, `attempts` (how many times it was decided: 1, plus one
    /// for each version conflict it retried and one when a cached aggregate turned out to be
    /// behind the store) and `events` (how many events it appended: 0 for a refusal, a no-op
    /// or an error, even an append error after which the store may have kept them). The
    /// store's own spans (a SQL store's DEBUG spans of each load, replay
    /// and append) are inside it.
    ///
    /// # Errors
    /// [`Error::Command`] when the command refuses, [`Error::VersionConflict`] when other
    /// writers won every retry, and the store's errors.
    pub async fn execute<C: CommandSet>(
        &self,
        commands: &C,
        aggregate_id: &str,
        command: &C::Command,
        metadata: &Metadata,
    ) -> Result<Agg<<C::Aggregate as Aggregate>::State>, Error> {
        let stream = <C::Aggregate as Aggregate>::STREAM;
        // INFO, not DEBUG: a command is the unit of work of a service, as a request is, and
        // services run at INFO, where a DEBUG span would vanish from their traces. A span
        // writes no line by itself (a fmt subscriber shows it only as the context of the events
        // logged inside it, such as a snapshot warning), so INFO costs no log volume. The
        // per-statement spans of the stores are DEBUG. The field values are borrowed, and read
        // only when a subscriber wants the span.
        let span = tracing::info_span!(
            "evtstore.command",
            stream,
            aggregate_id,
            command = commands.command_name(command),
            attempts = tracing::field::Empty,
            events = tracing::field::Empty,
        );
        let mut tally = Tally::default();
        let outcome = self
            .execute_counted(commands, aggregate_id, command, metadata, &mut tally)
            .instrument(span.clone())
            .await;
        span.record("attempts", tally.attempts);
        span.record("events", tally.events);
        outcome
    }

    /// The body of [`execute`](Self::execute), counting its decisions and appended events
    /// into `tally` for the span, whichever way it returns.
    async fn execute_counted<C: CommandSet>(
        &self,
        commands: &C,
        aggregate_id: &str,
        command: &C::Command,
        metadata: &Metadata,
        tally: &mut Tally,
    ) -> Result<Agg<<C::Aggregate as Aggregate>::State>, Error> {
        let stream = <C::Aggregate as Aggregate>::STREAM;
        // Whether `agg` is a cache entry not yet checked against the store.
        let (mut agg, mut unchecked) = match self.cache.get(stream, aggregate_id) {
            Some(cached) => (cached, true),
            None => (
                self.load_uncached::<C::Aggregate>(aggregate_id).await?,
                false,
            ),
        };
        let mut retries = 0;
        // Whether a command with an id may already have run: before the first decision and
        // after every conflict (a duplicate running at the same time may be the one that won).
        let mut may_have_run = metadata.command_id.is_some();
        loop {
            if let Some(command_id) = metadata.command_id.as_deref()
                && std::mem::take(&mut may_have_run)
                && let Some(first) = self
                    .as_left_by::<C::Aggregate>(aggregate_id, command_id)
                    .await?
            {
                return Ok(first);
            }
            tally.attempts += 1;
            let decision = commands.decide(&agg, command).await;
            let decision = match decision {
                // Not a refusal: something the command needed failed, whatever the state.
                Err(failed) if failed.failure().is_some() => {
                    return Err(failed.into_error(stream, aggregate_id));
                }
                decision => decision,
            };
            let appends = matches!(&decision, Ok(events) if !events.is_empty());
            if unchecked && !appends {
                // Only an append reaches the store's version check: a refusal or a no-op on a
                // stale cache entry would go on answering from a past state (refusing a user
                // another process created) until the entry is evicted.
                unchecked = false;
                let cached_version = agg.version;
                agg = self.replay::<C::Aggregate>(agg, false).await?;
                if agg.version != cached_version {
                    self.cache.put(stream, &agg);
                    continue;
                }
            }
            let events = decision.map_err(|refused| refused.into_error(stream, aggregate_id))?;
            if events.is_empty() {
                return Ok(agg);
            }
            let count = events.len();
            match self.append(agg, events.into_vec(), metadata).await {
                Err(conflict)
                    if conflict.is_version_conflict() && retries < self.options.retries =>
                {
                    retries += 1;
                    self.pause_before_retry(retries).await;
                    // The append dropped the cache entry: reload from the store.
                    agg = self.load_uncached::<C::Aggregate>(aggregate_id).await?;
                    unchecked = false;
                    may_have_run = metadata.command_id.is_some();
                }
                outcome => {
                    if outcome.is_ok() {
                        tally.events = count;
                    }
                    return outcome;
                }
            }
        }
    }

    /// The aggregate as the command with `command_id` left it, when events of it carry that
    /// id: its history up to and including the last of them, folded. `None` when no event
    /// carries it. Reads the whole history from the store (not the cache nor a snapshot,
    /// which keep no metadata): idempotency costs one full load per command that has an id.
    async fn as_left_by<A: Aggregate>(
        &self,
        aggregate_id: &str,
        command_id: &str,
    ) -> Result<Option<Agg<A::State>>, Error> {
        let recorded = self.store.load(A::STREAM, aggregate_id, 0).await?;
        let carries_id = |event: &RecordedEvent| {
            // A cheap test first: most events of a long history do not mention the id at all.
            event.metadata.as_deref().is_some_and(|json| {
                json.contains(command_id)
                    && serde_json::from_str::<Metadata>(json)
                        .is_ok_and(|metadata| metadata.command_id.as_deref() == Some(command_id))
            })
        };
        let Some(last) = recorded.iter().rposition(carries_id) else {
            return Ok(None);
        };
        let mut agg = Agg::new(aggregate_id);
        for event in recorded.into_iter().take(last + 1) {
            check_next_version(
                A::STREAM,
                aggregate_id,
                agg.version,
                event.version,
                event.cursor.position,
            )?;
            A::fold(&mut agg.state, &A::decode(&event)?);
            agg.version = event.version;
        }
        Ok(Some(agg))
    }

    /// Waits before retry number `retry` (1 for the first) of a command that hit a version
    /// conflict; see [`DomainOptions::retry_backoff`].
    async fn pause_before_retry(&self, retry: u32) {
        let options = &self.options;
        let pause = retry_pause(options.retry_backoff, options.retry_backoff_cap, retry);
        // No sleep for no wait: a domain configured to retry at once needs no timer.
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }

    /// Appends events to a loaded aggregate at the versions after its own, and returns it with
    /// the events folded in. Commands call this after deciding; call it directly to append
    /// without a command.
    ///
    /// # Errors
    /// [`Error::VersionConflict`] when the aggregate has changed since it was loaded, and the
    /// store's errors. The aggregate's cache entry is dropped on any error, as the store may
    /// or may not have kept the events.
    pub async fn append<A: Aggregate>(
        &self,
        mut agg: Agg<A::State>,
        events: Vec<A>,
        metadata: &Metadata,
    ) -> Result<Agg<A::State>, Error> {
        let encode_error = |what, source| Error::Encode {
            what,
            stream: A::STREAM.to_owned(),
            aggregate_id: agg.aggregate_id.clone(),
            source,
        };
        let new_events = events
            .iter()
            .zip(agg.version + 1..)
            .map(|(event, version)| {
                let json = serde_json::to_string(event).map_err(|e| encode_error("event", e))?;
                Ok(NewEvent {
                    version,
                    event_type: event.event_type(),
                    event: json,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let metadata = if metadata.is_empty() {
            None
        } else {
            Some(serde_json::to_string(metadata).map_err(|e| encode_error("metadata", e))?)
        };
        let appended = self
            .store
            .append(Append {
                stream: A::STREAM,
                aggregate_id: &agg.aggregate_id,
                events: &new_events,
                timestamp: Timestamp::now(),
                metadata: metadata.as_deref(),
            })
            .await;
        if let Err(error) = appended {
            self.cache.evict(A::STREAM, &agg.aggregate_id);
            return Err(error);
        }
        for event in &events {
            A::fold(&mut agg.state, event);
        }
        agg.version += events.len() as u64;
        self.cache.put(A::STREAM, &agg);
        // The events are stored: failing the command now would make the caller retry a command
        // that took effect. A missing snapshot only costs a longer load.
        if let Err(error) = self.save_snapshot::<A>(&agg).await {
            tracing::warn!(%error, "could not store a snapshot");
        }
        Ok(agg)
    }

    /// Loads an aggregate from the store, bypassing the cache, and caches the result.
    async fn load_uncached<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Agg<A::State>, Error> {
        let agg = self.replay::<A>(Agg::new(aggregate_id), true).await?;
        self.cache.put(A::STREAM, &agg);
        Ok(agg)
    }

    /// Folds the stored events after the aggregate's version into it, starting from its
    /// snapshot when `from_snapshot` and the aggregate has one with the code's tag.
    async fn replay<A: Aggregate>(
        &self,
        agg: Agg<A::State>,
        from_snapshot: bool,
    ) -> Result<Agg<A::State>, Error> {
        let snapshots = A::SNAPSHOTS.filter(|_| from_snapshot);
        let aggregate_id = agg.aggregate_id.clone();
        let (mut agg, mut broken_snapshot) = (agg, None);
        let tag = snapshots.map(|snapshots| snapshots.tag);
        self.store
            .replay(A::STREAM, &aggregate_id, agg.version, tag, |item| {
                match item {
                    Replayed::Snapshot { version, state } => {
                        let decode = snapshots.map(|snapshots| snapshots.decode);
                        match decode.map(|decode| decode(state)) {
                            Some(Ok(state)) => {
                                agg.state = state;
                                agg.version = version;
                            }
                            Some(Err(source)) => broken_snapshot = Some(source),
                            None => {}
                        }
                    }
                    // The events after a broken snapshot are no use without it.
                    Replayed::Event { .. } if broken_snapshot.is_some() => {}
                    Replayed::Event {
                        version,
                        position,
                        event,
                    } => {
                        check_next_version(
                            A::STREAM,
                            &aggregate_id,
                            agg.version,
                            version,
                            position,
                        )?;
                        let at = EventAt {
                            stream: A::STREAM,
                            aggregate_id: &aggregate_id,
                            position,
                        };
                        A::fold(&mut agg.state, &decode_at::<A>(event, at)?);
                        agg.version = version;
                    }
                }
                Ok(())
            })
            .await?;
        let Some(source) = broken_snapshot else {
            return Ok(agg);
        };
        // The events are the truth and the snapshot only a shortcut: rebuild from all of
        // them, and let the next command store a good snapshot.
        let error = DecodeError::Snapshot {
            stream: A::STREAM.to_owned(),
            aggregate_id: aggregate_id.clone(),
            tag: tag.unwrap_or_default().to_owned(),
            source,
        };
        tracing::warn!(%error, "ignoring a snapshot that does not decode");
        Box::pin(self.replay::<A>(Agg::new(aggregate_id), false)).await
    }

    async fn save_snapshot<A: Aggregate>(&self, agg: &Agg<A::State>) -> Result<(), Error> {
        let Some(snapshots) = A::SNAPSHOTS else {
            return Ok(());
        };
        let state = (snapshots.encode)(&agg.state).map_err(|source| Error::Encode {
            what: "snapshot",
            stream: A::STREAM.to_owned(),
            aggregate_id: agg.aggregate_id.clone(),
            source,
        })?;
        let snapshot = Snapshot {
            version: agg.version,
            tag: snapshots.tag.to_owned(),
            state,
        };
        self.store
            .save_snapshot(A::STREAM, &agg.aggregate_id, &snapshot)
            .await
    }
}

/// Refuses an event whose version does not follow the one before it: an aggregate's stored
/// versions are 1..n, and a fold over anything else (a gap, a row another program wrote)
/// would decide on a history that is not whole.
fn check_next_version(
    stream: &str,
    aggregate_id: &str,
    before: u64,
    version: u64,
    position: i64,
) -> Result<(), Error> {
    if version == before + 1 {
        return Ok(());
    }
    Err(Error::BrokenHistory {
        stream: stream.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        detail: format!(
            "expected version {} after version {before}, found version {version} at position \
             {position}",
            before + 1
        ),
    })
}

/// The metadata of a recorded event, consuming it to avoid copying its strings. Fails when the
/// stored metadata is not valid metadata JSON.
pub(crate) fn event_meta(
    stream: &'static str,
    recorded: RecordedEvent,
) -> Result<EventMeta, DecodeError> {
    let metadata = match recorded.metadata.as_deref() {
        None => Metadata::default(),
        Some(json) => serde_json::from_str(json).map_err(|source| DecodeError::Malformed {
            stream: recorded.stream.clone(),
            aggregate_id: recorded.aggregate_id.clone(),
            position: recorded.cursor.position,
            event_type: "metadata".to_owned(),
            source,
        })?,
    };
    Ok(EventMeta {
        stream,
        aggregate_id: recorded.aggregate_id,
        version: recorded.version,
        cursor: recorded.cursor,
        timestamp: recorded.timestamp,
        metadata,
    })
}
