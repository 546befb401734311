//! Read-your-writes: a command's response may wait, for a bounded time, until a named read
//! model has handled the command's events, so that a client that posts and then lists sees
//! its post.
//!
//! Waiting compares the read model's bookmark, as stored (so that it works whichever process
//! runs the projection), with the end of the command's stream read after the command: once
//! the bookmark has reached that cursor, every event of the stream up to it, the command's
//! included, is in the read model (a projection's bookmark commits with its writes, and
//! handlers read in cursor order without skipping). Events appended by others after the
//! command may make the wait a little longer; never shorter.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use evtstore::{Cursor, Error, Store};
use evtstore_sqlx::SqlStore;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How often the bookmark is read while waiting for a projection that runs in another
/// process. A projection in this process wakes the wait at once ([`ReadModel::batches`]).
const POLL: Duration = Duration::from_millis(20);

/// A read model a command can wait for.
#[derive(Clone, Debug)]
pub struct ReadModel {
    /// The projection's handler name (its bookmark).
    pub name: &'static str,
    /// The streams it follows.
    pub streams: &'static [&'static str],
    /// Notified after each batch the projection runs in this process.
    pub batches: Arc<Notify>,
}

impl ReadModel {
    /// A read model of this name following these streams.
    #[must_use]
    pub fn new(name: &'static str, streams: &'static [&'static str]) -> Self {
        ReadModel {
            name,
            streams,
            batches: Arc::new(Notify::new()),
        }
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
        let deadline = Instant::now() + timeout;
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
            let _ = tokio::time::timeout((deadline - now).min(POLL), batch_done).await;
        }
    }
}
