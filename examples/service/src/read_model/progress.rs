//! What the service knows of each read model besides its tables: its name and streams (for
//! `?wait_for=`), and the last error of its projection (for `/health`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// A read model a command can wait for, and whose health `/health` reports.
#[derive(Clone, Debug)]
pub struct ReadModel {
    /// The projection's handler name (its bookmark).
    pub name: &'static str,
    /// The streams it follows.
    pub streams: &'static [&'static str],
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
            last_error: Arc::default(),
        }
    }

    /// The hook run after each batch of the projection: clears the last error once a batch
    /// handled everything it read.
    pub fn after_batch(&self) -> impl Fn(evtstore::BatchReport) + Send + Sync + 'static {
        let last_error = Arc::clone(&self.last_error);
        move |report| {
            if report.fetched > 0 && report.handled == report.fetched {
                *last_error.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
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
}
