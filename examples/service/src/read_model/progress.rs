//! What the service knows of each read model besides its tables and its projection: the last
//! error of the projection, for `/health`.

use std::sync::{Arc, Mutex, PoisonError};

/// A read model: its name (its projection's), and the last error of its projection.
#[derive(Clone, Debug)]
pub struct ReadModel {
    /// The projection's handler name (its bookmark); its streams are the handler's.
    pub name: &'static str,
    /// The last error of its projection in this process, until a batch succeeds.
    last_error: Arc<Mutex<Option<String>>>,
}

impl ReadModel {
    /// The read model kept by the projection named `name`.
    #[must_use]
    pub fn new(name: &'static str) -> Self {
        ReadModel {
            name,
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
            *last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
        }
    }

    /// The projection's last error in this process, if no batch succeeded since.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
