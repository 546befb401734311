//! SQLite, PostgreSQL and MySQL/MariaDB stores for [`evtstore`], built on sqlx.
//!
//! [`connect`] picks the backend from the URL's scheme and returns a [`SqlStore`]; each
//! backend also has its own store type built from a URL or from an existing pool
//! ([`SqliteStore`], [`PgStore`], [`MySqlStore`]). Tables are created on request by
//! `migrate()`, which is idempotent and upgrades a database written by the TypeScript
//! evtstore in place (its column names are kept).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use evtstore::Store;
//!
//! let store = evtstore_sqlx::connect("sqlite::memory:").await?;
//! store.migrate().await?;
//! assert!(store.bookmark("nobody").await?.is_none());
//! # Ok::<_, evtstore::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Never skipping an event
//!
//! A handler reads events in cursor order and bookmarks the last one it handled, so a store
//! must never make an event visible after a later one has been read. Each backend holds this
//! with concurrent writers:
//! - SQLite has a single writer and each append is one statement: positions become visible in
//!   order.
//! - PostgreSQL stamps every event with its transaction id (`txid xid8`), orders by
//!   (txid, position) and reads only rows of transactions older than the oldest one still
//!   running (`pg_snapshot_xmin`). Nothing can later commit before a row already read. A
//!   transaction left open anywhere on the server holds handlers back until it ends.
//! - MySQL/MariaDB takes positions from `AUTO_INCREMENT` in one autocommit `INSERT .. SELECT`
//!   per append, under InnoDB's table-level AUTO-INC lock, which it holds until it commits, so
//!   appends commit in position order. A read first finds the settled position, the table's
//!   last row read with a locking read that waits for its append to commit, then reads its
//!   page with a plain snapshot read bounded by it. (A snapshot read alone can see a later
//!   append without an earlier one however the writers are ordered: InnoDB collects the
//!   running transactions for a snapshot without a lock. The first release, which serialised
//!   appends through a locked sequence row, skipped events this way; the bound keeps every row
//!   the read can return below what that race can touch.) The server must run with
//!   `innodb_autoinc_lock_mode` 0 or 1 (MariaDB's default): the store checks it. Rows that
//!   other programs insert with plain `INSERT .. VALUES` (the TypeScript evtstore) do not take
//!   the AUTO-INC lock until they commit, so they are not covered.
//!
//! Two tests of the workspace check this with concurrent writers: `tests/tests/multiprocess.rs`
//! with writer, reader and handler processes on every backend (it fails on the first
//! release's MariaDB store, kept as `MySqlStore::legacy_sequence_positions` for that check),
//! and `tests/tests/concurrent_writers.rs` with tasks in one process (it fails on PostgreSQL
//! read in plain position order).
//!
//! # Costs and trade-offs
//! - Appends are one statement on every backend: all events of a command, checked against the
//!   aggregate's current version in the same statement. On MySQL the AUTO-INC lock serialises
//!   appends for the length of their statement, not their commit: the log flushes of
//!   concurrent appends are still shared.
//! - A row that cannot be read as an event (a NULL event or version, a version below 1, written
//!   by another program) is returned by reads in its place as an
//!   [`evtstore::UnreadableRow`], so it never hides the events around it; loads
//!   refuse such an aggregate with [`evtstore::Error::BrokenHistory`].
//! - Streams, aggregate ids and bookmark names longer than 255 characters (what the schema's
//!   `VARCHAR(255)` columns keep) are refused with [`evtstore::Error::TooLong`]
//!   before anything is written, on every backend.
//! - `migrate()` may run in every process at every start: on an up-to-date schema it only reads
//!   the catalog and takes no lock that waits behind or holds up other sessions.
//! - On PostgreSQL, an event becomes readable once every transaction that started writing
//!   before it has ended. A read at the end of the streams that finds committed events held
//!   back this way waits for them, up to [`PgStore::with_visibility_wait`] (1 s by default).
//!   Reads that find a full page fetch many pages at once (on MySQL too) and serve the next
//!   reads from memory, so that catching up costs fewer round trips; while fewer than one
//!   such read's rows are left, the next ones are read in a background task as the handler
//!   works. Rows are decoded as the driver yields them, never collected first.
//! - Loading an aggregate ([`evtstore::Store::replay`]) is one statement in the usual case:
//!   the snapshot under the aggregate's tag, if any, then only the events after it, each
//!   handed over borrowed from its row. On PostgreSQL and MySQL the snapshot's statement also
//!   probes the aggregate's index for events after the snapshot, and they are read by a
//!   second statement only when there are some (every command stores a snapshot, so usually
//!   there are none): a snapshot and the events merged in one statement cost MariaDB a sort
//!   in a temporary table.
//! - On PostgreSQL, bookmarks are committed without waiting for the WAL flush: a server crash
//!   may lose the last bookmarks written (never an event); handlers then hand over again the
//!   events after the bookmark that survived, as at-least-once delivery allows.
//! - Handlers claim their bookmark row ([`evtstore::Store::claim`]): the claim's owner, epoch
//!   and lease live in three columns of the bookmarks table, with defaults, so the TypeScript
//!   evtstore's bookmark writes keep working. Leases are measured on the database server's
//!   clock. Every bookmark write of a runner is one `UPDATE` conditional on its owner and epoch;
//!   a projection's transaction ends with that `UPDATE`, whose row lock makes a takeover wait
//!   for the commit and then read the bookmark it stored.
//! - A projection's transaction on SQLite is `BEGIN IMMEDIATE`: it holds the database's write
//!   lock for the page, so appends wait for it (up to the busy timeout, 10 s).
//! - SQLite: see [`Synchronous`] for durability.
//!
//! # Features
//! `sqlite`, `postgres` and `mysql`, all on by default.
#![warn(missing_docs, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("evtstore-sqlx needs at least one of the features `sqlite`, `postgres`, `mysql`");

mod common;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod read_ahead;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store_methods;
mod tables;
mod transaction;

use std::time::Duration;

use evtstore::{
    Append, Claim, Claimed, Cursor, Error, Page, ReadRow, RecordedEvent, Replayed, Snapshot, Store,
};

#[cfg(feature = "mysql")]
pub use crate::mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use crate::postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use crate::sqlite::SqliteStore;
pub use crate::tables::{MAX_TABLE_NAME, Tables};
pub use crate::transaction::SqlTransaction;
use crate::transaction::dispatch_transaction;
pub use sqlx;

/// How SQLite commits reach the disk (its `synchronous` pragma, in WAL mode).
///
/// The default is [`Normal`](Synchronous::Normal): commits are atomic and the database never
/// corrupts, but the last commits before a power loss or OS crash (not an application crash)
/// may be rolled back. It roughly doubles append throughput over [`Full`](Synchronous::Full),
/// which makes every commit durable before it returns. Choose `Full` when an acknowledged
/// command must survive a power cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Durable up to the last WAL checkpoint; fast.
    #[default]
    Normal,
    /// Every commit is synced to disk before it returns.
    Full,
}

/// Options for [`connect_with`]: table names and SQLite's durability.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// The table names (validated when built).
    pub tables: Tables,
    /// SQLite's durability; ignored by the other backends.
    pub synchronous: Synchronous,
}

impl ConnectOptions {
    /// The defaults: the TypeScript evtstore's table names, [`Synchronous::Normal`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses these table names.
    #[must_use]
    pub fn tables(mut self, tables: Tables) -> Self {
        self.tables = tables;
        self
    }

    /// Uses this SQLite durability.
    #[must_use]
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }
}

/// A store on whichever database a URL names; made by [`connect`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SqlStore {
    /// A SQLite database.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
    /// A MySQL or MariaDB database.
    #[cfg(feature = "mysql")]
    MySql(MySqlStore),
}

/// Connects to the database a URL names, with default options: `sqlite:` (a file, or
/// `sqlite::memory:`), `postgres:`/`postgresql:`, or `mysql:`/`mariadb:`.
///
/// The tables are not created: call [`SqlStore::migrate`].
///
/// # Errors
/// [`Error::Config`] for an unknown scheme or a backend left out at compile time,
/// [`Error::Database`] when the database does not answer.
pub async fn connect(url: &str) -> Result<SqlStore, Error> {
    connect_with(url, ConnectOptions::default()).await
}

/// Connects to the database a URL names, with the given options; see [`connect`].
///
/// # Errors
/// As [`connect`].
pub async fn connect_with(url: &str, options: ConnectOptions) -> Result<SqlStore, Error> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    let _ = &options;
    match scheme.to_ascii_lowercase().as_str() {
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(SqlStore::Sqlite(
            SqliteStore::connect_with(url, options.tables, options.synchronous).await?,
        )),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(SqlStore::Postgres(
            PgStore::connect_with(url, options.tables).await?,
        )),
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => Ok(SqlStore::MySql(
            MySqlStore::connect_with(url, options.tables).await?,
        )),
        #[allow(unreachable_patterns)]
        "sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb" => Err(Error::Config(format!(
            "the `{scheme}` backend is not compiled in: enable evtstore-sqlx's feature for it"
        ))),
        _ => Err(Error::Config(format!(
            "unsupported database URL scheme `{scheme}:`; expected sqlite:, postgres:, \
             postgresql:, mysql: or mariadb:"
        ))),
    }
}

/// Calls the same method on whichever backend the store is.
macro_rules! dispatch {
    ($self:expr, $store:ident => $call:expr) => {
        match $self {
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite($store) => $call,
            #[cfg(feature = "postgres")]
            SqlStore::Postgres($store) => $call,
            #[cfg(feature = "mysql")]
            SqlStore::MySql($store) => $call,
        }
    };
}

impl SqlStore {
    /// Creates the missing tables, indexes and columns; see each backend's `migrate`.
    ///
    /// # Errors
    /// [`Error::Database`] when a statement fails.
    pub async fn migrate(&self) -> Result<(), Error> {
        dispatch!(self, store => store.migrate().await)
    }

    /// The table names.
    pub fn tables(&self) -> &Tables {
        dispatch!(self, store => store.tables())
    }
}

impl Store for SqlStore {
    async fn append(&self, append: Append<'_>) -> Result<(), Error> {
        dispatch!(self, store => store.append(append).await)
    }

    async fn claim_holder(&self, name: &str) -> Result<Option<evtstore::ClaimHolder>, Error> {
        dispatch!(self, store => store.claim_holder(name).await)
    }

    async fn count_between(
        &self,
        streams: &[&str],
        after: Cursor,
        until: Cursor,
    ) -> Result<u64, Error> {
        dispatch!(self, store => store.count_between(streams, after, until).await)
    }

    fn wakeups(&self) -> Option<&evtstore::Wakeups> {
        dispatch!(self, store => store.wakeups())
    }

    fn claim_releases(&self) -> Option<&evtstore::Wakeups> {
        dispatch!(self, store => store.claim_releases())
    }

    async fn load(
        &self,
        stream: &str,
        aggregate_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        dispatch!(self, store => store.load(stream, aggregate_id, after_version).await)
    }

    async fn replay<F>(
        &self,
        stream: &str,
        aggregate_id: &str,
        after_version: u64,
        snapshot_tag: Option<&str>,
        visit: F,
    ) -> Result<(), Error>
    where
        F: FnMut(Replayed<'_>) -> Result<(), Error> + Send,
    {
        dispatch!(self, store => {
            store
                .replay(stream, aggregate_id, after_version, snapshot_tag, visit)
                .await
        })
    }

    async fn read(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<ReadRow>, Error> {
        dispatch!(self, store => store.read(streams, after, limit).await)
    }

    async fn read_page(
        &self,
        streams: &[&str],
        after: Cursor,
        limit: usize,
    ) -> Result<Page, Error> {
        dispatch!(self, store => store.read_page(streams, after, limit).await)
    }

    async fn last_cursor(&self, streams: &[&str]) -> Result<Cursor, Error> {
        dispatch!(self, store => store.last_cursor(streams).await)
    }

    async fn bookmark(&self, name: &str) -> Result<Option<Cursor>, Error> {
        dispatch!(self, store => store.bookmark(name).await)
    }

    async fn set_bookmark(&self, name: &str, cursor: Cursor) -> Result<(), Error> {
        dispatch!(self, store => store.set_bookmark(name, cursor).await)
    }

    async fn snapshot(&self, stream: &str, aggregate_id: &str) -> Result<Option<Snapshot>, Error> {
        dispatch!(self, store => store.snapshot(stream, aggregate_id).await)
    }

    async fn save_snapshot(
        &self,
        stream: &str,
        aggregate_id: &str,
        snapshot: &Snapshot,
    ) -> Result<(), Error> {
        dispatch!(self, store => store.save_snapshot(stream, aggregate_id, snapshot).await)
    }

    async fn claim(
        &self,
        name: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Claimed>, Error> {
        dispatch!(self, store => store.claim(name, owner, lease).await)
    }

    async fn renew_claim(&self, claim: &Claim, lease: Duration) -> Result<(), Error> {
        dispatch!(self, store => store.renew_claim(claim, lease).await)
    }

    async fn release_claim(&self, claim: &Claim) -> Result<(), Error> {
        dispatch!(self, store => store.release_claim(claim).await)
    }

    async fn set_claimed_bookmark(
        &self,
        claim: &Claim,
        cursor: Cursor,
        lease: Duration,
    ) -> Result<(), Error> {
        dispatch!(self, store => store.set_claimed_bookmark(claim, cursor, lease).await)
    }

    type Transaction = SqlTransaction;

    async fn begin(&self) -> Result<SqlTransaction, Error> {
        Ok(match self {
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite(store) => SqlTransaction::Sqlite(store.begin().await?),
            #[cfg(feature = "postgres")]
            SqlStore::Postgres(store) => SqlTransaction::Postgres(store.begin().await?),
            #[cfg(feature = "mysql")]
            SqlStore::MySql(store) => SqlTransaction::MySql(store.begin().await?),
        })
    }

    async fn savepoint(&self, transaction: &mut SqlTransaction) -> Result<(), Error> {
        dispatch_transaction!(self, transaction, store, tx => store.savepoint(tx).await)
    }

    async fn rollback_to_savepoint(&self, transaction: &mut SqlTransaction) -> Result<(), Error> {
        dispatch_transaction!(self, transaction, store, tx => store.rollback_to_savepoint(tx).await)
    }

    async fn release_savepoint(&self, transaction: &mut SqlTransaction) -> Result<(), Error> {
        dispatch_transaction!(self, transaction, store, tx => store.release_savepoint(tx).await)
    }

    async fn commit(&self, transaction: SqlTransaction) -> Result<(), Error> {
        dispatch_transaction!(self, transaction, store, tx => store.commit(tx).await)
    }

    async fn commit_claimed(
        &self,
        transaction: SqlTransaction,
        claim: &Claim,
        cursor: Cursor,
        lease: Duration,
    ) -> Result<(), Error> {
        dispatch_transaction!(self, transaction, store, tx => {
            store.commit_claimed(tx, claim, cursor, lease).await
        })
    }
}
