//! Wake-ups: a store tells the handlers that follow it that events were appended, so that a
//! tailing handler runs at once instead of at its next poll.
//!
//! A wake-up is a hint, never the truth: a handler woken reads after its bookmark like any
//! run, and one that misses a wake-up (none was sent, a listener connection was lost) still
//! runs at its next poll. So a store may send wake-ups too often, never too few for
//! correctness.

use std::fmt;

use tokio::sync::watch;

/// The wake-up signal of one store (shared by its clones): [`notify`](Self::notify) after an
/// append, and every handler started on the store wakes. Store implementations that have
/// one return it from [`Store::wakeups`](crate::Store::wakeups).
///
/// ```
/// use evtstore::Wakeups;
///
/// let wakeups = Wakeups::default();
/// // After an append has committed:
/// wakeups.notify();
/// ```
pub struct Wakeups {
    /// A counter of wake-ups: a watch channel remembers per receiver whether it has seen the
    /// latest value, so a wake-up sent while a handler runs is not lost: the handler sees it
    /// when it next waits.
    sender: watch::Sender<u64>,
}

impl Default for Wakeups {
    fn default() -> Self {
        Wakeups {
            sender: watch::Sender::new(0),
        }
    }
}

impl fmt::Debug for Wakeups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wakeups")
            .field("sent", &*self.sender.borrow())
            .field("listening", &self.sender.receiver_count())
            .finish()
    }
}

impl Wakeups {
    /// Wakes every handler waiting on this store; cheap, and never blocks.
    pub fn notify(&self) {
        self.sender
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A receiver that [`WakeupReceiver::woken`] resolves for every wake-up sent after this
    /// call (several at once count as one).
    #[must_use]
    pub(crate) fn subscribe(&self) -> WakeupReceiver {
        WakeupReceiver(self.sender.subscribe())
    }
}

/// One handler lane's view of a store's wake-ups.
#[derive(Debug)]
pub(crate) struct WakeupReceiver(watch::Receiver<u64>);

impl WakeupReceiver {
    /// Resolves once a wake-up was sent since the last one seen.
    pub(crate) async fn woken(&mut self) {
        if self.0.changed().await.is_err() {
            // The store is gone: nothing will wake this lane any more.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Wakeups;

    #[tokio::test]
    async fn a_wake_up_sent_before_waiting_is_not_lost() {
        let wakeups = Wakeups::default();
        let mut receiver = wakeups.subscribe();
        wakeups.notify();
        wakeups.notify();
        // Both count as one, seen at the next wait.
        tokio::time::timeout(std::time::Duration::from_secs(1), receiver.woken())
            .await
            .expect("the wake-up sent before waiting is seen");
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(20), receiver.woken()).await;
        assert!(waited.is_err(), "nothing new was sent");
    }
}
