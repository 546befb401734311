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
