//! Loading an aggregate: its snapshot when it has a current one, the events after it folded
//! in, checked to be whole; and its history for reading.

use crate::aggregate::{Agg, Aggregate, EventAt, Snapshot};
use crate::domain::{Domain, Recorded};
use crate::error::{DecodeError, Error};
use crate::event::event_meta;
use crate::store::{Replayed, Store};
use crate::upcast::decode_upcast;

impl<S: Store> Domain<S> {
    /// Loads an aggregate: its snapshot when it has a current one, then the events after it.
    /// An unknown id loads as version 0 with the default state.
    ///
    /// # Errors
    /// The store's errors, and [`Error::Decode`] for an event that does not decode.
    pub async fn load<A: Aggregate>(&self, aggregate_id: &str) -> Result<Agg<A::State>, Error> {
        let agg = match self.cache.get::<A::State>(A::STREAM, aggregate_id) {
            Some(cached) => self.replay::<A>(cached, false).await?,
            None => self.replay::<A>(Agg::new(aggregate_id), true).await?,
        };
        self.cache.put(A::STREAM, &agg);
        Ok(agg)
    }

    /// Every event of an aggregate, in version order.
    ///
    /// # Errors
    /// The store's errors, and [`Error::Decode`] for an event that does not decode.
    pub async fn history<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<Recorded<A>>, Error> {
        let stored = self.store.load(A::STREAM, aggregate_id, 0).await?;
        let mut history = Vec::with_capacity(stored.len());
        for (recorded, before) in stored.into_iter().zip(0..) {
            let (version, position) = (recorded.version, recorded.cursor.position);
            check_next_version(A::STREAM, aggregate_id, before, version, position)?;
            let events = decode_upcast::<A>(&recorded.event, EventAt::of(&recorded))?;
            let meta = event_meta(A::STREAM, recorded)?;
            // An event an upcaster split is several events with the stored event's metadata.
            history.extend(events.map(|event| Recorded {
                event,
                meta: meta.clone(),
            }));
        }
        Ok(history)
    }

    /// Loads an aggregate from the store, bypassing the cache, and caches the result.
    pub(super) async fn load_uncached<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Agg<A::State>, Error> {
        let agg = self.replay::<A>(Agg::new(aggregate_id), true).await?;
        self.cache.put(A::STREAM, &agg);
        Ok(agg)
    }

    /// Folds the stored events after the aggregate's version into it, starting from its
    /// snapshot when `from_snapshot` and the aggregate has one with the code's tag.
    ///
    /// An aggregate without upcasters (schema 1) is read without the events' positions, which
    /// only upcasters and error messages use: every value a row carries costs the drivers an
    /// allocation or a conversion, the whole gap to a plain read of the events
    /// (`BENCHMARKS.md`). When that fold fails on an event, it is replayed again from the
    /// start with positions, so that the error names the event's position as every other
    /// read's errors do.
    pub(super) async fn replay<A: Aggregate>(
        &self,
        agg: Agg<A::State>,
        from_snapshot: bool,
    ) -> Result<Agg<A::State>, Error> {
        // Owned apart from `agg`, which the fold's visitor borrows mutably.
        let aggregate_id = agg.aggregate_id.clone();
        if A::SCHEMA > 1 {
            let positions = Positions::Read;
            return self
                .fold::<A>(&aggregate_id, agg, from_snapshot, positions)
                .await;
        }
        match self
            .fold::<A>(&aggregate_id, agg, from_snapshot, Positions::Skip)
            .await
        {
            Err(Error::Decode(_) | Error::BrokenHistory { .. }) => {
                let agg = Agg::new(aggregate_id.clone());
                self.fold::<A>(&aggregate_id, agg, from_snapshot, Positions::Read)
                    .await
            }
            folded => folded,
        }
    }

    /// [`replay`](Self::replay) with the store read one way; `aggregate_id` is `agg`'s.
    async fn fold<A: Aggregate>(
        &self,
        aggregate_id: &str,
        agg: Agg<A::State>,
        from_snapshot: bool,
        positions: Positions,
    ) -> Result<Agg<A::State>, Error> {
        let snapshots = A::SNAPSHOTS.filter(|_| from_snapshot);
        let (mut agg, mut broken_snapshot) = (agg, None);
        let tag = snapshots.map(|snapshots| snapshots.tag);
        let after = agg.version;
        let visit = |item: Replayed<'_>| {
            match item {
                Replayed::Snapshot { version, state } => {
                    let decode = snapshots.map(|snapshots| snapshots.decode);
                    match decode.map(|decode| decode(state)) {
                        Some(Ok(state)) => {
                            agg.state = state;
                            agg.version = version;
                        }
                        Some(Err(source)) => broken_snapshot = Some(source),
                        None => {}
                    }
                }
                // The events after a broken snapshot are no use without it.
                Replayed::Event { .. } if broken_snapshot.is_some() => {}
                Replayed::Event {
                    version,
                    position,
                    event,
                } => {
                    // Without positions, a failure here is reported by the read with them
                    // (`replay`), so the default is never shown.
                    let position = position.unwrap_or_default();
                    check_next_version(A::STREAM, aggregate_id, agg.version, version, position)?;
                    let at = EventAt {
                        stream: A::STREAM,
                        aggregate_id,
                        position,
                    };
                    for event in decode_upcast::<A>(event, at)? {
                        A::fold(&mut agg.state, &event);
                    }
                    agg.version = version;
                }
            }
            Ok(())
        };
        match positions {
            Positions::Read => {
                self.store
                    .replay(A::STREAM, aggregate_id, after, tag, visit)
                    .await?
            }
            Positions::Skip => {
                self.store
                    .replay_without_positions(A::STREAM, aggregate_id, after, tag, visit)
                    .await?
            }
        }
        let Some(source) = broken_snapshot else {
            return Ok(agg);
        };
        // The events are the truth and the snapshot only a shortcut: rebuild from all of
        // them, and let the next command store a good snapshot.
        let error = DecodeError::Snapshot {
            stream: A::STREAM.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            tag: tag.unwrap_or_default().to_owned(),
            source,
        };
        tracing::warn!(%error, "ignoring a snapshot that does not decode");
        Box::pin(self.replay::<A>(Agg::new(aggregate_id), false)).await
    }

    pub(super) async fn save_snapshot<A: Aggregate>(
        &self,
        agg: &Agg<A::State>,
    ) -> Result<(), Error> {
        let Some(snapshots) = A::SNAPSHOTS else {
            return Ok(());
        };
        let state = (snapshots.encode)(&agg.state).map_err(|source| Error::Encode {
            what: "snapshot",
            stream: A::STREAM.to_owned(),
            aggregate_id: agg.aggregate_id.clone(),
            source,
        })?;
        let snapshot = Snapshot {
            version: agg.version,
            tag: snapshots.tag.to_owned(),
            state,
        };
        self.store
            .save_snapshot(A::STREAM, &agg.aggregate_id, &snapshot)
            .await
    }
}

/// Whether a replay reads the events' positions.
#[derive(Clone, Copy, Debug)]
enum Positions {
    /// [`Store::replay`]: for upcasters, and for the errors of a fold that failed.
    Read,
    /// [`Store::replay_without_positions`].
    Skip,
}

/// Refuses an event whose version does not follow the one before it: an aggregate's stored
/// versions are 1..n, and a fold over anything else (a gap, a row another program wrote)
/// would decide on a history that is not whole.
pub(crate) fn check_next_version(
    stream: &str,
    aggregate_id: &str,
    before: u64,
    version: u64,
    position: i64,
) -> Result<(), Error> {
    if version == before + 1 {
        return Ok(());
    }
    Err(Error::BrokenHistory {
        stream: stream.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        detail: format!(
            "expected version {} after version {before}, found version {version} at position \
             {position}",
            before + 1
        ),
    })
}
