//! Appending decided events to a loaded aggregate: encoded, stored at the versions after the
//! aggregate's own, folded in, cached and snapshotted.

use crate::aggregate::{Agg, Aggregate};
use crate::domain::Domain;
use crate::error::Error;
use crate::event::{Append, Metadata, NewEvent, Timestamp};
use crate::store::Store;
use crate::upcast::encode;

impl<S: Store> Domain<S> {
    /// Appends events to a loaded aggregate at the versions after its own, and returns it with
    /// the events folded in. Commands call this after deciding; call it directly to append
    /// without a command.
    ///
    /// # Errors
    /// [`Error::VersionConflict`] when the aggregate has changed since it was loaded, and the
    /// store's errors. The aggregate's cache entry is dropped on any error, as the store may
    /// or may not have kept the events.
    pub async fn append<A: Aggregate>(
        &self,
        mut agg: Agg<A::State>,
        events: Vec<A>,
        metadata: &Metadata,
    ) -> Result<Agg<A::State>, Error> {
        let encode_error = |what, source| Error::Encode {
            what,
            stream: A::STREAM.to_owned(),
            aggregate_id: agg.aggregate_id.clone(),
            source,
        };
        let new_events = events
            .iter()
            .zip(agg.version + 1..)
            .map(|(event, version)| {
                let json = encode(event).map_err(|e| encode_error("event", e))?;
                Ok(NewEvent {
                    version,
                    event_type: event.event_type(),
                    event: json,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let metadata = if metadata.is_empty() {
            None
        } else {
            Some(serde_json::to_string(metadata).map_err(|e| encode_error("metadata", e))?)
        };
        let appended = self
            .store
            .append(Append {
                stream: A::STREAM,
                aggregate_id: &agg.aggregate_id,
                events: &new_events,
                timestamp: Timestamp::now(),
                metadata: metadata.as_deref(),
            })
            .await;
        if let Err(error) = appended {
            self.cache.evict(A::STREAM, &agg.aggregate_id);
            return Err(error);
        }
        for event in &events {
            A::fold(&mut agg.state, event);
        }
        agg.version += events.len() as u64;
        self.cache.put(A::STREAM, &agg);
        // The events are stored: failing the command now would make the caller retry a command
        // that took effect. A missing snapshot only costs a longer load.
        if let Err(error) = self.save_snapshot::<A>(&agg).await {
            tracing::warn!(%error, "could not store a snapshot");
        }
        Ok(agg)
    }
}
