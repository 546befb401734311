//! Lag and health: where a handler (or each of its segments) is, how far behind its streams,
//! who runs it, and when it last handled an event.

use std::time::SystemTime;

use crate::error::Error;
use crate::event::Cursor;
use crate::handler::EventHandler;
use crate::handler::model::HandlerModel;
use crate::store::{ClaimHolder, Store};

/// The state of one handler, or of one segment of a segmented handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerStatus {
    /// The bookmark (and claim) name: the handler's, or the segment's (`name#index/count`).
    pub bookmark: String,
    /// The stored bookmark; `None` before the first one is stored.
    pub position: Option<Cursor>,
    /// The last event of the handler's streams.
    pub last_cursor: Cursor,
    /// How many rows of the handler's streams follow the bookmark: what the handler still has
    /// to read (a segment reads, and passes over, the other segments' events too).
    pub behind: u64,
    /// Who holds the claim now; `None` when nobody runs the handler (or segment).
    pub holder: Option<ClaimHolder>,
    /// When this handler object last handled an event; `None` when it has not, and always
    /// from [`read`](Self::read), which other processes use.
    pub last_handled: Option<SystemTime>,
}

impl HandlerStatus {
    /// The status of the handler (or segment) whose bookmark is `bookmark` and whose streams
    /// are `streams`, read from the store: what any process (a health check, an operator's
    /// tool) can learn of a handler it does not run: four queries on the SQL stores
    /// ([`Store::count_between`] counts in the database).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn read<S: Store>(
        store: &S,
        bookmark: &str,
        streams: &[&str],
    ) -> Result<Self, Error> {
        let position = store.bookmark(bookmark).await?;
        let last_cursor = store.last_cursor(streams).await?;
        let behind = store
            .count_between(streams, position.unwrap_or(Cursor::START), last_cursor)
            .await?;
        let holder = store.claim_holder(bookmark).await?;
        Ok(HandlerStatus {
            bookmark: bookmark.to_owned(),
            position,
            last_cursor,
            behind,
            holder,
            last_handled: None,
        })
    }
}

impl<S: Store, H: HandlerModel> EventHandler<S, H> {
    /// The status of each segment (one entry for a handler that is not split), with when this
    /// handler object last handled an event of it.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn status(&self) -> Result<Vec<HandlerStatus>, Error> {
        let mut statuses = Vec::with_capacity(self.inner.lanes.len());
        for lane in &self.inner.lanes {
            let mut status =
                HandlerStatus::read(&self.inner.store, &lane.bookmark, &self.inner.streams).await?;
            status.last_handled = lane.last_handled();
            statuses.push(status);
        }
        Ok(statuses)
    }
}
