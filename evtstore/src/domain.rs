//! The domain: one store with its options and aggregate cache, the entry point of an
//! application. What it does lives with the concept it belongs to: commands, loads and
//! appends in [`command`](crate::command), handlers in [`handler`](crate::handler).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::AggregateCache;
use crate::event::EventMeta;
use crate::store::Store;

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
    pub(crate) store: S,
    pub(crate) options: DomainOptions,
    pub(crate) cache: Arc<AggregateCache>,
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
}
