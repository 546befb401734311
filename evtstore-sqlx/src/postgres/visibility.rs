//! Visibility on PostgreSQL: which committed events a gap-safe read may return yet, and the
//! bounded wait for those held back by an older transaction still running.

use std::fmt;
use std::time::{Duration, Instant};

use evtstore::Error;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::common::db_error;

/// See [`PgStore::with_visibility_wait`](super::PgStore::with_visibility_wait).
pub(super) const DEFAULT_VISIBILITY_WAIT: Duration = Duration::from_secs(1);

/// What a gap-safe query saw besides its rows: the snapshot's xmin and the newest txid of
/// committed events held back by an older transaction still running.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bound {
    xmin: i64,
    held_back: Option<i64>,
}

impl Bound {
    /// Reads the two columns starting at `index` of a result's first row.
    pub(super) fn of(
        row: Option<&PgRow>,
        index: usize,
        operation: &dyn fmt::Display,
    ) -> Result<Self, Error> {
        let Some(row) = row else {
            return Ok(Bound {
                xmin: 0,
                held_back: None,
            });
        };
        let get = |index| {
            row.try_get::<Option<i64>, _>(index)
                .map_err(|error| db_error(operation, error))
        };
        Ok(Bound {
            xmin: get(index)?.unwrap_or(0),
            held_back: get(index + 1)?,
        })
    }
}

/// Waits, within a budget, until events that were committed when a read began have become
/// safe to read: until the xmin passes the newest txid held back at the first read.
pub(super) struct Waiter {
    budget: Duration,
    deadline: Option<Instant>,
    target: Option<i64>,
    pause: Duration,
}

impl Waiter {
    pub(super) fn new(budget: Duration) -> Self {
        Waiter {
            budget,
            deadline: None,
            target: None,
            pause: Duration::from_millis(1),
        }
    }

    /// Whether to read again, after a pause: true while events held back at the first read
    /// are still held back and the budget lasts.
    pub(super) async fn wait_for(&mut self, bound: Bound, gap_safe: bool) -> bool {
        if !gap_safe || self.budget.is_zero() {
            return false;
        }
        let target = match self.target {
            Some(target) => target,
            None => match bound.held_back {
                Some(held_back) => *self.target.insert(held_back),
                None => return false,
            },
        };
        if bound.xmin > target {
            return false;
        }
        let now = Instant::now();
        let deadline = *self.deadline.get_or_insert(now + self.budget);
        if now >= deadline {
            return false;
        }
        tokio::time::sleep(self.pause.min(deadline - now)).await;
        self.pause = (self.pause * 2).min(Duration::from_millis(16));
        true
    }
}

/// See [`PgStore::with_held_back_report`](super::PgStore::with_held_back_report).
pub(super) const DEFAULT_HELD_BACK_REPORT: Duration = Duration::from_secs(1);

/// The backend whose transaction is the oldest still running (the snapshot's xmin, as a
/// 32-bit xid in `pg_stat_activity`), anywhere on the cluster.
const BLOCKER: &str = "SELECT pid, COALESCE(datname::text, ''), COALESCE(state, ''), \
     COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - xact_start)::float8, 0) \
     FROM pg_stat_activity \
     WHERE backend_xid IS NOT NULL AND backend_xid::text::bigint = $1 % 4294967296 \
     LIMIT 1";

/// Episodes of reads held back by one old transaction: each is reported once, when it has
/// lasted longer than the threshold, not on every read.
#[derive(Debug, Default)]
pub(super) struct HeldBackEpisodes(std::sync::Mutex<Option<Episode>>);

#[derive(Debug)]
struct Episode {
    xmin: i64,
    since: Instant,
    reported: bool,
}

impl HeldBackEpisodes {
    /// Notes what a read saw at its end; returns the xmin to report when the episode it
    /// belongs to has just become due (held back for `threshold` and not reported yet).
    pub(super) fn observe(&self, bound: Bound, threshold: Duration) -> Option<i64> {
        let mut episode = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if bound.held_back.is_none() {
            *episode = None;
            return None;
        }
        let current = match &mut *episode {
            Some(current) if current.xmin == bound.xmin => current,
            other => other.insert(Episode {
                xmin: bound.xmin,
                since: Instant::now(),
                reported: false,
            }),
        };
        if current.reported || current.since.elapsed() < threshold {
            return None;
        }
        current.reported = true;
        Some(current.xmin)
    }
}

/// Reports, through `tracing`, the transaction that holds reads back: its backend's pid,
/// database, state and age. A failure to find it is reported too (it may be a prepared
/// transaction, or have just ended).
pub(super) async fn report_held_back(pool: &sqlx::PgPool, xmin: i64, streams: &[&str]) {
    let blocker: Result<Option<(i32, String, String, f64)>, sqlx::Error> = sqlx::query_as(BLOCKER)
        .bind(xmin)
        .fetch_optional(pool)
        .await;
    match blocker {
        Ok(Some((pid, database, state, age))) => tracing::warn!(
            pid,
            database = %database,
            state = %state,
            transaction_age_secs = age,
            xmin,
            ?streams,
            "committed events are held back from handlers by an old transaction still running \
             (PostgreSQL's snapshot xmin is cluster-wide): end it to let them through"
        ),
        Ok(None) => tracing::warn!(
            xmin,
            ?streams,
            "committed events are held back by an old transaction that no backend shows \
             (a prepared transaction?)"
        ),
        Err(error) => tracing::warn!(
            xmin,
            %error,
            "committed events are held back by an old transaction; it cannot be looked up"
        ),
    }
}
