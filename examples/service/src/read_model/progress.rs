//! How far a read model is: read-your-writes, and the last error of its projection.
//!
//! A command's response may wait, for a bounded time, until a named read model has handled the
//! command's events, so that a client that posts and then lists sees its post.
//!
//! Waiting compares the read model's bookmark, as stored (so that it works whichever process
//! runs the projection), with the end of the command's stream read after the command: once
//! the bookmark has reached that cursor, every event of the stream up to it, the command's
//! included, is in the read model (a projection's bookmark commits with its writes, and
//! handlers read in cursor order without skipping). Events appended by others after the
//! command may make the wait a little longer; never shorter.

use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use evtstore::{Cursor, Error, Store};
use evtstore_sqlx::SqlStore;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The first and the longest pause between two reads of the bookmark while waiting for a
/// projection that runs in another process: the pause doubles, so that a long wait costs few
/// queries. A projection in this process wakes the wait at once ([`ReadModel::batches`]).
const FIRST_POLL: Duration = Duration::from_millis(5);
const LONGEST_POLL: Duration = Duration::from_millis(100);

/// A read model a command can wait for.
#[derive(Clone, Debug)]
pub struct ReadModel {
    /// The projection's handler name (its bookmark).
    pub name: &'static str,
    /// The streams it follows.
    pub streams: &'static [&'static str],
    /// Notified after each batch the projection runs in this process.
    pub batches: Arc<Notify>,
    /// The last error of its projection in this process, until a batch succeeds.
    last_error: Arc<Mutex<Option<LastError>>>,
}

/// A projection's failure, as `/health` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastError {
    /// What failed.
    pub message: String,
    /// When.
    pub at: SystemTime,
}

impl ReadModel {
    /// A read model of this name following these streams.
    #[must_use]
    pub fn new(name: &'static str, streams: &'static [&'static str]) -> Self {
        ReadModel {
            name,
            streams,
            batches: Arc::new(Notify::new()),
            last_error: Arc::default(),
        }
    }

    /// The hook run after each batch of the projection: wakes the commands waiting for it,
    /// and clears the last error once a batch handled everything it read.
    pub fn after_batch(&self) -> impl Fn(evtstore::BatchReport) + Send + Sync + 'static {
        let (batches, last_error) = (Arc::clone(&self.batches), Arc::clone(&self.last_error));
        move |report| {
            if report.fetched > 0 && report.handled == report.fetched {
                *last_error.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
            batches.notify_waiters();
        }
    }

    /// The hook run on each error of the projection: logs it and keeps it for `/health`. A
    /// projection that fails stops at the failing event and tries again after its back-off,
    /// so that an event it cannot handle holds it there until the code or the data is fixed.
    pub fn on_error(&self) -> impl Fn(&evtstore::Error) + Send + Sync + 'static {
        let (name, last_error) = (self.name, Arc::clone(&self.last_error));
        move |error| {
            tracing::error!(read_model = name, %error, "projection failed");
            *last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(LastError {
                message: error.to_string(),
                at: SystemTime::now(),
            });
        }
    }

    /// The projection's last error in this process, if no batch succeeded since.
    #[must_use]
    pub fn last_error(&self) -> Option<LastError> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until the read model has handled every event of `stream` appended so far, for
    /// at most `timeout`. Returns whether it has.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn wait_for_stream(
        &self,
        store: &SqlStore,
        stream: &str,
        timeout: Duration,
    ) -> Result<bool, Error> {
        let target = store.last_cursor(&[stream]).await?;
        if target == Cursor::START {
            return Ok(true);
        }
        tracing::debug!(read_model = self.name, stream, "waiting for the read model");
        let deadline = Instant::now() + timeout;
        let mut pause = FIRST_POLL;
        loop {
            // Registered before the bookmark is read, so that a batch ending in between
            // still wakes this wait.
            let mut batch_done = pin!(self.batches.notified());
            batch_done.as_mut().enable();
            if store
                .bookmark(self.name)
                .await?
                .is_some_and(|bookmark| bookmark >= target)
            {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let _ = tokio::time::timeout((deadline - now).min(pause), batch_done).await;
            pause = (pause * 2).min(LONGEST_POLL);
        }
    }
}
