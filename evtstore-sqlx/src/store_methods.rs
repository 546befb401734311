//! The [`Store`](evtstore::Store) methods whose SQL differs between the backends and whose Rust
//! does not: bookmarks, snapshots, claims, fenced bookmark writes and projection transactions,
//! and the two replay entry points.
//!
//! They are written once, in [`shared_store_methods!`], and expanded inside each backend's
//! `impl Store`, where they use the backend's pool, its rendered [`SharedSql`] and three hooks:
//! a `bind_cursor` function (PostgreSQL binds a bookmark's commit key too), the statement
//! that opens a projection's transaction, and the backend's `replay_rows` method. A macro rather than generic functions: sqlx's
//! executor and argument traits do not normalise for a generic database type (see sqlx's
//! `impl_into_arguments_for_arguments`), so generic code would repeat a wall of bounds on
//! every function instead of the SQL once per backend.

use std::sync::Arc;
use std::time::Duration;

use evtstore::{Claim, Claimed, Cursor, Error};
use sqlx::AssertSqlSafe;

use crate::Tables;
use crate::common::{MAX_NAME_CHARS, check_name};

/// The statements of the shared methods, rendered once for a store's table names.
#[derive(Debug)]
pub(crate) struct SharedSql {
    pub(crate) bookmark_get: Arc<str>,
    pub(crate) bookmark_set: Arc<str>,
    pub(crate) snapshot_get: Arc<str>,
    pub(crate) snapshot_set: Arc<str>,
    pub(crate) claim_insert: Arc<str>,
    pub(crate) claim_take: Arc<str>,
    pub(crate) claim_read: Arc<str>,
    pub(crate) claim_renew: Arc<str>,
    pub(crate) claim_release: Arc<str>,
    pub(crate) claim_holder: Arc<str>,
    /// A plain handler's fenced bookmark write, on its own.
    pub(crate) bookmark_fenced: Arc<str>,
    /// A projection's fenced bookmark write, in its transaction.
    pub(crate) bookmark_fenced_in_transaction: Arc<str>,
}

/// The SQL files of one backend, `src/sql/{backend}/*.sql`; a plain handler's fenced write is
/// `bookmark_fenced_async.sql` where the backend has one, `bookmark_fenced.sql` otherwise.
macro_rules! shared_sql_files {
    ($backend:literal, plain_fenced = $plain:literal) => {
        $crate::store_methods::SharedSqlFiles {
            bookmark_get: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/bookmark_get.sql"
            )),
            bookmark_set: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/bookmark_set.sql"
            )),
            snapshot_get: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/snapshot_get.sql"
            )),
            snapshot_set: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/snapshot_set.sql"
            )),
            claim_insert: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/claim_insert.sql"
            )),
            claim_take: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/claim_take.sql"
            )),
            claim_read: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/claim_read.sql"
            )),
            claim_renew: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/claim_renew.sql"
            )),
            claim_release: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/claim_release.sql"
            )),
            claim_holder: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/claim_holder.sql"
            )),
            bookmark_fenced: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/",
                $plain,
                ".sql"
            )),
            bookmark_fenced_in_transaction: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/sql/",
                $backend,
                "/bookmark_fenced.sql"
            )),
        }
    };
}
pub(crate) use shared_sql_files;

/// The templates of [`SharedSql`], before table names are substituted.
pub(crate) struct SharedSqlFiles {
    pub(crate) bookmark_get: &'static str,
    pub(crate) bookmark_set: &'static str,
    pub(crate) snapshot_get: &'static str,
    pub(crate) snapshot_set: &'static str,
    pub(crate) claim_insert: &'static str,
    pub(crate) claim_take: &'static str,
    pub(crate) claim_read: &'static str,
    pub(crate) claim_renew: &'static str,
    pub(crate) claim_release: &'static str,
    pub(crate) claim_holder: &'static str,
    pub(crate) bookmark_fenced: &'static str,
    pub(crate) bookmark_fenced_in_transaction: &'static str,
}

impl SharedSql {
    pub(crate) fn new(tables: &Tables, files: &SharedSqlFiles) -> Self {
        let render = |template: &str| Arc::from(tables.render(template));
        SharedSql {
            bookmark_get: render(files.bookmark_get),
            bookmark_set: render(files.bookmark_set),
            snapshot_get: render(files.snapshot_get),
            snapshot_set: render(files.snapshot_set),
            claim_insert: render(files.claim_insert),
            claim_take: render(files.claim_take),
            claim_read: render(files.claim_read),
            claim_renew: render(files.claim_renew),
            claim_release: render(files.claim_release),
            claim_holder: render(files.claim_holder),
            bookmark_fenced: render(files.bookmark_fenced),
            bookmark_fenced_in_transaction: render(files.bookmark_fenced_in_transaction),
        }
    }
}

/// A statement as sqlx wants it. The text comes from this crate's `.sql` files with validated
/// table names substituted, never from user data.
pub(crate) fn sql(statement: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(Arc::clone(statement))
}

/// The savepoint a projection that continues on error puts around each event. The same
/// statements on every backend.
pub(crate) const SAVEPOINT: &str = "SAVEPOINT evtstore_event";
pub(crate) const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT evtstore_event";
pub(crate) const RELEASE_SAVEPOINT: &str = "RELEASE SAVEPOINT evtstore_event";

/// A lease in milliseconds, as the claim statements add it to the database clock.
pub(crate) fn lease_millis(lease: Duration) -> i64 {
    // At most a day: the database adds it to its clock in milliseconds.
    i64::try_from(lease.min(evtstore::MAX_LEASE).as_millis()).unwrap_or(i64::MAX / 2)
}

/// Refuses a claim the bookmarks table cannot keep.
pub(crate) fn check_claim(name: &str, owner: &str) -> Result<(), Error> {
    check_name("bookmark name", name, MAX_NAME_CHARS)?;
    check_name("claim owner", owner, MAX_NAME_CHARS)
}

/// A stored bookmark: a negative position is the row of a claim taken before any bookmark was
/// stored (see `claim_insert.sql`), which is no bookmark.
pub(crate) fn stored_bookmark(position: Option<i64>, commit: i64) -> Option<Cursor> {
    match position {
        Some(position) if position < 0 => None,
        // A NULL position (another program's row) is the start, as the TypeScript evtstore
        // reads it.
        position => Some(Cursor {
            commit,
            position: position.unwrap_or(0),
        }),
    }
}

/// The claim granted by `claim_read.sql`'s row of (epoch, position, commit key).
pub(crate) fn claimed(
    name: &str,
    owner: &str,
    (epoch, position, commit): (i64, i64, i64),
) -> Claimed {
    Claimed {
        claim: Claim {
            name: name.to_owned(),
            owner: owner.to_owned(),
            epoch,
        },
        bookmark: stored_bookmark(Some(position), commit),
    }
}

/// The outcome of a fenced statement that matched `rows` rows: none means the claim is no
/// longer this runner's.
pub(crate) fn fenced(claim: &Claim, rows: u64) -> Result<(), Error> {
    match rows {
        0 => Err(Error::ClaimLost {
            bookmark: claim.name.clone(),
            epoch: claim.epoch,
        }),
        _ => Ok(()),
    }
}

/// Expands, inside a backend's `impl Store`, the methods described in the module docs. The
/// backend provides `self.pool`, `self.sql.shared` (a [`SharedSql`]), a function
/// `bind_cursor(query, cursor)` in scope, and a method `replay_rows(key, snapshot_tag,
/// positions, visit)` with `key` = (stream, aggregate id, after version); `$db` is its sqlx
/// database type and `$begin` the statement that opens a projection's transaction.
macro_rules! shared_store_methods {
    ($db:ty, begin = $begin:literal) => {
        /// The rows of [`read_page`](::evtstore::Store::read_page), owned: every store reads
        /// through its pages, which handlers take packed.
        async fn read(
            &self,
            streams: &[&str],
            after: ::evtstore::Cursor,
            limit: usize,
        ) -> Result<Vec<::evtstore::ReadRow>, ::evtstore::Error> {
            self.read_page(streams, after, limit)
                .await
                .map(::evtstore::Page::into_rows)
        }

        async fn replay<F>(
            &self,
            stream: &str,
            aggregate_id: &str,
            after_version: u64,
            snapshot_tag: Option<&str>,
            visit: F,
        ) -> Result<(), ::evtstore::Error>
        where
            F: FnMut(::evtstore::Replayed<'_>) -> Result<(), ::evtstore::Error> + Send,
        {
            let key = (stream, aggregate_id, after_version);
            let positions = $crate::common::Positions::Read;
            self.replay_rows(key, snapshot_tag, positions, visit).await
        }

        async fn replay_without_positions<F>(
            &self,
            stream: &str,
            aggregate_id: &str,
            after_version: u64,
            snapshot_tag: Option<&str>,
            visit: F,
        ) -> Result<(), ::evtstore::Error>
        where
            F: FnMut(::evtstore::Replayed<'_>) -> Result<(), ::evtstore::Error> + Send,
        {
            let key = (stream, aggregate_id, after_version);
            let positions = $crate::common::Positions::Skip;
            self.replay_rows(key, snapshot_tag, positions, visit).await
        }

        async fn bookmark(
            &self,
            name: &str,
        ) -> Result<Option<::evtstore::Cursor>, ::evtstore::Error> {
            $crate::common::check_name("bookmark name", name, $crate::common::MAX_NAME_CHARS)?;
            let row: Option<(Option<i64>, i64)> =
                ::sqlx::query_as($crate::store_methods::sql(&self.sql.shared.bookmark_get))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|error| {
                        $crate::common::db_error(format_args!("reading bookmark `{name}`"), error)
                    })?;
            Ok(row.and_then(|(position, commit)| {
                $crate::store_methods::stored_bookmark(position, commit)
            }))
        }

        async fn set_bookmark(
            &self,
            name: &str,
            cursor: ::evtstore::Cursor,
        ) -> Result<(), ::evtstore::Error> {
            $crate::common::check_name("bookmark name", name, $crate::common::MAX_NAME_CHARS)?;
            let query =
                ::sqlx::query($crate::store_methods::sql(&self.sql.shared.bookmark_set)).bind(name);
            bind_cursor(query, cursor)
                .execute(&self.pool)
                .await
                .map_err(|error| {
                    $crate::common::db_error(format_args!("storing bookmark `{name}`"), error)
                })?;
            Ok(())
        }

        async fn snapshot(
            &self,
            stream: &str,
            aggregate_id: &str,
        ) -> Result<Option<::evtstore::Snapshot>, ::evtstore::Error> {
            let operation = format!("reading the snapshot of {stream}/{aggregate_id}");
            let row = ::sqlx::query($crate::store_methods::sql(&self.sql.shared.snapshot_get))
                .bind(stream)
                .bind(aggregate_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|error| $crate::common::db_error(&operation, error))?;
            row.map(|row| $crate::common::snapshot_from_row(&row, &operation))
                .transpose()
        }

        async fn save_snapshot(
            &self,
            stream: &str,
            aggregate_id: &str,
            snapshot: &::evtstore::Snapshot,
        ) -> Result<(), ::evtstore::Error> {
            $crate::common::check_name(
                "snapshot tag",
                &snapshot.tag,
                $crate::common::MAX_NAME_CHARS,
            )?;
            let operation = format!("storing the snapshot of {stream}/{aggregate_id}");
            let version = $crate::common::snapshot_version(snapshot, &operation)?;
            ::sqlx::query($crate::store_methods::sql(&self.sql.shared.snapshot_set))
                .bind(stream)
                .bind(aggregate_id)
                .bind(version)
                .bind(snapshot.tag.as_str())
                .bind(snapshot.state.as_str())
                .execute(&self.pool)
                .await
                .map_err(|error| $crate::common::db_error(&operation, error))?;
            Ok(())
        }

        async fn claim(
            &self,
            name: &str,
            owner: &str,
            lease: ::std::time::Duration,
        ) -> Result<Option<::evtstore::Claimed>, ::evtstore::Error> {
            use $crate::store_methods::sql;
            $crate::store_methods::check_claim(name, owner)?;
            let shared = &self.sql.shared;
            let failed =
                |error| $crate::common::db_error(format_args!("claiming handler `{name}`"), error);
            // Three statements, none of them holding a lock past itself: make sure the row
            // exists, take it if it is free or expired, read what was granted. (MariaDB has
            // no UPDATE .. RETURNING.) Only the owner that took the claim reads it back, so a
            // takeover between the last two statements reads as not granted.
            ::sqlx::query(sql(&shared.claim_insert))
                .bind(name)
                .execute(&self.pool)
                .await
                .map_err(failed)?;
            let taken = ::sqlx::query(sql(&shared.claim_take))
                .bind(owner)
                .bind($crate::store_methods::lease_millis(lease))
                .bind(name)
                .bind(owner)
                .execute(&self.pool)
                .await
                .map_err(failed)?
                .rows_affected();
            if taken == 0 {
                return Ok(None);
            }
            let row: Option<(i64, i64, i64)> = ::sqlx::query_as(sql(&shared.claim_read))
                .bind(name)
                .bind(owner)
                .fetch_optional(&self.pool)
                .await
                .map_err(failed)?;
            Ok(row.map(|row| $crate::store_methods::claimed(name, owner, row)))
        }

        async fn renew_claim(
            &self,
            claim: &::evtstore::Claim,
            lease: ::std::time::Duration,
        ) -> Result<(), ::evtstore::Error> {
            let done = ::sqlx::query($crate::store_methods::sql(&self.sql.shared.claim_renew))
                .bind($crate::store_methods::lease_millis(lease))
                .bind(claim.name.as_str())
                .bind(claim.owner.as_str())
                .bind(claim.epoch)
                .execute(&self.pool)
                .await
                .map_err(|error| {
                    $crate::common::db_error(
                        format_args!("renewing the claim on `{}`", claim.name),
                        error,
                    )
                })?;
            $crate::store_methods::fenced(claim, done.rows_affected())
        }

        async fn release_claim(&self, claim: &::evtstore::Claim) -> Result<(), ::evtstore::Error> {
            let released =
                ::sqlx::query($crate::store_methods::sql(&self.sql.shared.claim_release))
                    .bind(claim.name.as_str())
                    .bind(claim.owner.as_str())
                    .bind(claim.epoch)
                    .execute(&self.pool)
                    .await
                    .map_err(|error| {
                        $crate::common::db_error(
                            format_args!("releasing the claim on `{}`", claim.name),
                            error,
                        )
                    })?
                    .rows_affected();
            if released > 0 {
                // Runners of this store standing by take it now.
                self.releases.notify();
            }
            Ok(())
        }

        // Each backend's `append_in_span` and `load_in_span` run the statements; the spans
        // are the same for all. DEBUG: one span per statement is detail under the command's
        // INFO span.
        async fn append(&self, append: ::evtstore::Append<'_>) -> Result<(), ::evtstore::Error> {
            let span = ::tracing::debug_span!(
                "evtstore.append",
                stream = append.stream,
                aggregate_id = append.aggregate_id,
                events = append.events.len(),
            );
            ::tracing::Instrument::instrument(self.append_in_span(&append), span).await
        }

        async fn load(
            &self,
            stream: &str,
            aggregate_id: &str,
            after_version: u64,
        ) -> Result<Vec<::evtstore::RecordedEvent>, ::evtstore::Error> {
            let span = ::tracing::debug_span!(
                "evtstore.load",
                stream,
                aggregate_id,
                after_version,
                events = ::tracing::field::Empty,
            );
            let events = ::tracing::Instrument::instrument(
                self.load_in_span(stream, aggregate_id, after_version),
                span.clone(),
            )
            .await?;
            span.record("events", events.len());
            Ok(events)
        }

        async fn claim_holder(
            &self,
            name: &str,
        ) -> Result<Option<::evtstore::ClaimHolder>, ::evtstore::Error> {
            let row: Option<(String, i64, i64)> =
                ::sqlx::query_as($crate::store_methods::sql(&self.sql.shared.claim_holder))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|error| {
                        $crate::common::db_error(
                            format_args!("reading the claim on `{name}`"),
                            error,
                        )
                    })?;
            Ok(row
                .and_then(|(owner, epoch, left)| ::evtstore::ClaimHolder::held(owner, epoch, left)))
        }

        async fn set_claimed_bookmark(
            &self,
            claim: &::evtstore::Claim,
            cursor: ::evtstore::Cursor,
            lease: ::std::time::Duration,
        ) -> Result<(), ::evtstore::Error> {
            let query = ::sqlx::query($crate::store_methods::sql(&self.sql.shared.bookmark_fenced));
            let done = bind_cursor(query, cursor)
                .bind($crate::store_methods::lease_millis(lease))
                .bind(claim.name.as_str())
                .bind(claim.owner.as_str())
                .bind(claim.epoch)
                .execute(&self.pool)
                .await
                .map_err(|error| {
                    $crate::common::db_error(
                        format_args!("storing bookmark `{}`", claim.name),
                        error,
                    )
                })?;
            $crate::store_methods::fenced(claim, done.rows_affected())
        }

        type Transaction = ::sqlx::Transaction<'static, $db>;

        async fn begin(&self) -> Result<Self::Transaction, ::evtstore::Error> {
            self.pool.begin_with($begin).await.map_err(|error| {
                $crate::common::db_error("opening a projection's transaction", error)
            })
        }

        async fn savepoint(
            &self,
            transaction: &mut Self::Transaction,
        ) -> Result<(), ::evtstore::Error> {
            ::sqlx::query($crate::store_methods::SAVEPOINT)
                .execute(&mut **transaction)
                .await
                .map_err(|error| $crate::common::db_error("setting a savepoint", error))?;
            Ok(())
        }

        async fn rollback_to_savepoint(
            &self,
            transaction: &mut Self::Transaction,
        ) -> Result<(), ::evtstore::Error> {
            ::sqlx::query($crate::store_methods::ROLLBACK_TO_SAVEPOINT)
                .execute(&mut **transaction)
                .await
                .map_err(|error| $crate::common::db_error("rolling back to a savepoint", error))?;
            Ok(())
        }

        async fn release_savepoint(
            &self,
            transaction: &mut Self::Transaction,
        ) -> Result<(), ::evtstore::Error> {
            ::sqlx::query($crate::store_methods::RELEASE_SAVEPOINT)
                .execute(&mut **transaction)
                .await
                .map_err(|error| $crate::common::db_error("releasing a savepoint", error))?;
            Ok(())
        }

        async fn commit(&self, transaction: Self::Transaction) -> Result<(), ::evtstore::Error> {
            transaction
                .commit()
                .await
                .map_err(|error| $crate::common::db_error("committing a projection", error))
        }

        async fn commit_claimed(
            &self,
            mut transaction: Self::Transaction,
            claim: &::evtstore::Claim,
            cursor: ::evtstore::Cursor,
            lease: ::std::time::Duration,
        ) -> Result<(), ::evtstore::Error> {
            let operation = || format!("committing the projection of `{}`", claim.name);
            // The fenced write comes last, so that the row lock it takes (which makes a
            // takeover wait for this commit, then see its bookmark) is held for as short a
            // time as the commit takes.
            let query = ::sqlx::query($crate::store_methods::sql(
                &self.sql.shared.bookmark_fenced_in_transaction,
            ));
            let done = bind_cursor(query, cursor)
                .bind($crate::store_methods::lease_millis(lease))
                .bind(claim.name.as_str())
                .bind(claim.owner.as_str())
                .bind(claim.epoch)
                .execute(&mut *transaction)
                .await
                .map_err(|error| $crate::common::db_error(operation(), error))?;
            // Dropping the transaction on a lost claim rolls the page back.
            $crate::store_methods::fenced(claim, done.rows_affected())?;
            transaction
                .commit()
                .await
                .map_err(|error| $crate::common::db_error(operation(), error))
        }
    };
}
pub(crate) use shared_store_methods;
