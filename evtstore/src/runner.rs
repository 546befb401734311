//! The handle of a handler running in the background.

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A handler started with [`EventHandler::start`](crate::EventHandler::start).
///
/// Dropping the handle leaves the handler running; call [`stop`](Self::stop) to end it.
#[derive(Debug)]
pub struct HandlerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl HandlerHandle {
    pub(crate) fn new(stop: watch::Sender<bool>, task: JoinHandle<()>) -> Self {
        HandlerHandle { stop, task }
    }

    /// Whether the background task is still running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the handler: it finishes the page in flight, stores its bookmark, and ends.
    /// Returns once it has ended.
    ///
    /// A panic of the model does not end the task (it is reported through the error hook as
    /// [`Error::HandlerPanicked`](crate::Error::HandlerPanicked)); a panic that did end it, such
    /// as one in the error hook itself, is raised again here.
    pub async fn stop(self) {
        // Sending fails only when the task has already ended, which is what stop wants.
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}
