//! Read-your-writes: waiting, for a bounded time, until a handler has handled everything up
//! to a cursor, so that a caller who executed a command and then reads the read model sees
//! its events.

use std::pin::pin;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::event::Cursor;
use crate::handler::lane::Lane;
use crate::handler::model::HandlerModel;
use crate::handler::{BookmarkHome, EventHandler};
use crate::store::Store;

/// The first and the longest pause between two reads of a stored bookmark while waiting for
/// a handler that runs elsewhere; the pause doubles in between, so that a long wait costs few
/// queries. A run of the same handler object wakes the wait at once.
const FIRST_POLL: Duration = Duration::from_millis(5);
const LONGEST_POLL: Duration = Duration::from_millis(100);

impl<S: Store, H: HandlerModel> EventHandler<S, H> {
    /// Waits until the handler has handled every event of its streams up to `cursor`, for at
    /// most `timeout`, and returns whether it has: `true` at once when it already had.
    ///
    /// "Handled" means by a run of this handler object, or, for a handler whose bookmark is
    /// kept in the store, by whichever process runs it: its stored bookmark has reached
    /// `cursor` (a projection's bookmark commits with its writes; a plain handler stores its
    /// bookmark after handling, see
    /// [`HandlerBuilder::bookmark_every`](crate::HandlerBuilder::bookmark_every)).
    /// So any process that builds the handler can wait for it, whether or not it runs it. Every
    /// segment of a segmented handler must have reached `cursor` (each reads all the events).
    /// A handler whose bookmark is in memory is only seen through this object's own runs.
    ///
    /// A cursor at or after a command's events: [`Store::last_cursor`] of the command's stream,
    /// read after the command returned (events appended by others after it may make the wait
    /// longer, never shorter).
    ///
    /// ```
    /// # use evtstore::doc_fixtures::{UserCommand, UserCommands, UserEvent};
    /// # use evtstore::{EventMeta, HandledBy, HandlerResult};
    /// # #[derive(Default)] struct Names(std::sync::Mutex<Vec<String>>);
    /// # impl HandledBy<Names> for UserEvent {
    /// #     async fn dispatch(names: &Names, _: &str, event: &Self, _: &EventMeta) -> HandlerResult {
    /// #         if let UserEvent::Created { name } = event { names.0.lock().unwrap().push(name.clone()); }
    /// #         Ok(())
    /// #     }
    /// # }
    /// use std::time::Duration;
    /// use evtstore::{Aggregate, Domain, MemoryStore, Store};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let domain = Domain::new(MemoryStore::new());
    /// let names = domain.handler("names", Names::default()).stream::<UserEvent>().build();
    /// let running = names.start();
    ///
    /// let create = UserCommand::Create { name: "Alice".into() };
    /// domain.commands(UserCommands).execute("alice", &create).await?;
    /// let written = domain.store().last_cursor(&[UserEvent::STREAM]).await?;
    /// assert!(names.wait_until_handled(written, Duration::from_secs(2)).await?);
    /// assert_eq!(*names.model().0.lock().unwrap(), ["Alice"]);
    /// running.stop().await;
    /// # Ok::<_, evtstore::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// The store's errors, reading a stored bookmark.
    pub async fn wait_until_handled(
        &self,
        cursor: Cursor,
        timeout: Duration,
    ) -> Result<bool, Error> {
        let deadline = Instant::now() + timeout;
        let mut pause = FIRST_POLL;
        for lane in &self.inner.lanes {
            loop {
                // Registered before looking, so that a run advancing in between still wakes
                // this wait.
                let mut advanced = pin!(lane.advanced.notified());
                advanced.as_mut().enable();
                if self.lane_has_reached(lane, cursor).await? {
                    break;
                }
                let now = Instant::now();
                if now >= deadline {
                    return Ok(false);
                }
                let _ = tokio::time::timeout((deadline - now).min(pause), advanced).await;
                pause = (pause * 2).min(LONGEST_POLL);
            }
        }
        Ok(true)
    }

    /// Whether `lane` has been handled up to `cursor`, here or (bookmark in the store) anywhere.
    async fn lane_has_reached(&self, lane: &Lane, cursor: Cursor) -> Result<bool, Error> {
        if lane.reached().is_some_and(|reached| reached >= cursor) {
            return Ok(true);
        }
        match self.inner.settings.bookmark_home {
            BookmarkHome::Memory => Ok(false),
            BookmarkHome::Store => Ok(self
                .inner
                .store
                .bookmark(&lane.bookmark)
                .await?
                .is_some_and(|stored| stored >= cursor)),
        }
    }
}
