//! Executing a command: load (from the cache when it can), decide, append, retry after a
//! version conflict, and answer a command whose id already ran.

use tracing::Instrument;

use crate::aggregate::{Agg, Aggregate};
use crate::command::CommandSet;
use crate::command::load::check_next_version;
use crate::domain::Domain;
use crate::error::Error;
use crate::event::{Metadata, RecordedEvent};
use crate::retry::retry_pause;
use crate::store::Store;

/// What one execution of a command did, for its span.
#[derive(Default)]
struct Tally {
    /// How many times the command was decided.
    attempts: u32,
    /// How many events it appended.
    events: usize,
}

impl<S: Store> Domain<S> {
    /// Executes a command of `commands` on an aggregate: loads it, decides, appends the events
    /// at the versions after the loaded one, and returns the aggregate after them.
    ///
    /// The aggregate comes from the cache when it is there, which may be behind the store when
    /// another process appended to it. What the command is decided on follows one rule:
    /// - A decision that appends nothing (a refusal, or no event) is always taken on the
    ///   current state. When it was taken on a cached aggregate, the events appended since
    ///   are read (only those: the cache knows its version) and, if there are any, the
    ///   command is decided again on the aggregate with them.
    /// - A decision that appends is checked by the store's optimistic concurrency: appending
    ///   at a version that exists is a version conflict, and the command is reloaded and
    ///   decided again, up to [`DomainOptions::retries`](crate::DomainOptions::retries)
    ///   times, after a random wait that grows with each retry
    ///   ([`DomainOptions::retry_backoff`](crate::DomainOptions::retry_backoff)).
    ///
    /// # Tracing
    /// The command runs in an INFO span `evtstore.command` with the fields `stream`,
    /// `aggregate_id`, `command` (the [`CommandSet::command_name`], when it gives one), and,
    /// recorded when the command ends, `attempts` (how many times it was decided: 1, plus one
    /// for each version conflict it retried and one when a cached aggregate turned out to be
    /// behind the store) and `events` (how many events it appended: 0 for a refusal, a no-op
    /// or an error, even an append error after which the store may have kept them). The
    /// store's own spans (a SQL store's DEBUG spans of each load, replay
    /// and append) are inside it.
    ///
    /// # Errors
    /// [`Error::Command`] when the command refuses, [`Error::VersionConflict`] when other
    /// writers won every retry, and the store's errors.
    pub async fn execute<C: CommandSet>(
        &self,
        commands: &C,
        aggregate_id: &str,
        command: &C::Command,
        metadata: &Metadata,
    ) -> Result<Agg<<C::Aggregate as Aggregate>::State>, Error> {
        let stream = <C::Aggregate as Aggregate>::STREAM;
        // INFO, not DEBUG: a command is the unit of work of a service, as a request is, and
        // services run at INFO, where a DEBUG span would vanish from their traces. A span
        // writes no line by itself (a fmt subscriber shows it only as the context of the events
        // logged inside it, such as a snapshot warning), so INFO costs no log volume. The
        // per-statement spans of the stores are DEBUG. The field values are borrowed, and read
        // only when a subscriber wants the span.
        let span = tracing::info_span!(
            "evtstore.command",
            stream,
            aggregate_id,
            command = commands.command_name(command),
            attempts = tracing::field::Empty,
            events = tracing::field::Empty,
        );
        let mut tally = Tally::default();
        let outcome = self
            .execute_counted(commands, aggregate_id, command, metadata, &mut tally)
            .instrument(span.clone())
            .await;
        span.record("attempts", tally.attempts);
        span.record("events", tally.events);
        outcome
    }

    /// The body of [`execute`](Self::execute), counting its decisions and appended events
    /// into `tally` for the span, whichever way it returns.
    async fn execute_counted<C: CommandSet>(
        &self,
        commands: &C,
        aggregate_id: &str,
        command: &C::Command,
        metadata: &Metadata,
        tally: &mut Tally,
    ) -> Result<Agg<<C::Aggregate as Aggregate>::State>, Error> {
        let stream = <C::Aggregate as Aggregate>::STREAM;
        // Whether `agg` is a cache entry not yet checked against the store.
        let (mut agg, mut unchecked) = match self.cache.get(stream, aggregate_id) {
            Some(cached) => (cached, true),
            None => (
                self.load_uncached::<C::Aggregate>(aggregate_id).await?,
                false,
            ),
        };
        let mut retries = 0;
        // Whether a command with an id may already have run: before the first decision and
        // after every conflict (a duplicate running at the same time may be the one that won).
        let mut may_have_run = metadata.command_id.is_some();
        loop {
            if let Some(command_id) = metadata.command_id.as_deref()
                && std::mem::take(&mut may_have_run)
                && let Some(first) = self
                    .as_left_by::<C::Aggregate>(aggregate_id, command_id)
                    .await?
            {
                return Ok(first);
            }
            tally.attempts += 1;
            let decision = commands.decide_with(&agg, command, metadata).await;
            let decision = match decision {
                // Not a refusal: something the command needed failed, whatever the state.
                Err(failed) if failed.failure().is_some() => {
                    return Err(failed.into_error(stream, aggregate_id));
                }
                decision => decision,
            };
            let appends = matches!(&decision, Ok(events) if !events.is_empty());
            if unchecked && !appends {
                // Only an append reaches the store's version check: a refusal or a no-op on a
                // stale cache entry would go on answering from a past state (refusing a user
                // another process created) until the entry is evicted.
                unchecked = false;
                let cached_version = agg.version;
                agg = self.replay::<C::Aggregate>(agg, false).await?;
                if agg.version != cached_version {
                    self.cache.put(stream, &agg);
                    continue;
                }
            }
            let events = decision.map_err(|refused| refused.into_error(stream, aggregate_id))?;
            if events.is_empty() {
                return Ok(agg);
            }
            let count = events.len();
            match self.append(agg, events.into_vec(), metadata).await {
                Err(conflict)
                    if conflict.is_version_conflict() && retries < self.options.retries =>
                {
                    retries += 1;
                    self.pause_before_retry(retries).await;
                    // The append dropped the cache entry: reload from the store.
                    agg = self.load_uncached::<C::Aggregate>(aggregate_id).await?;
                    unchecked = false;
                    may_have_run = metadata.command_id.is_some();
                }
                outcome => {
                    if outcome.is_ok() {
                        tally.events = count;
                    }
                    return outcome;
                }
            }
        }
    }

    /// The aggregate as the command with `command_id` left it, when events of it carry that
    /// id: its history up to and including the last of them, folded. `None` when no event
    /// carries it. Reads the whole history from the store (not the cache nor a snapshot,
    /// which keep no metadata): idempotency costs one full load per command that has an id.
    async fn as_left_by<A: Aggregate>(
        &self,
        aggregate_id: &str,
        command_id: &str,
    ) -> Result<Option<Agg<A::State>>, Error> {
        let recorded = self.store.load(A::STREAM, aggregate_id, 0).await?;
        let carries_id = |event: &RecordedEvent| {
            // A cheap test first: most events of a long history do not mention the id at all.
            event.metadata.as_deref().is_some_and(|json| {
                json.contains(command_id)
                    && serde_json::from_str::<Metadata>(json)
                        .is_ok_and(|metadata| metadata.command_id.as_deref() == Some(command_id))
            })
        };
        let Some(last) = recorded.iter().rposition(carries_id) else {
            return Ok(None);
        };
        let mut agg = Agg::new(aggregate_id);
        for event in recorded.into_iter().take(last + 1) {
            check_next_version(
                A::STREAM,
                aggregate_id,
                agg.version,
                event.version,
                event.cursor.position,
            )?;
            for decoded in A::decode_all(&event)? {
                A::fold(&mut agg.state, &decoded);
            }
            agg.version = event.version;
        }
        Ok(Some(agg))
    }

    /// Waits before retry number `retry` (1 for the first) of a command that hit a version
    /// conflict; see [`DomainOptions::retry_backoff`].
    async fn pause_before_retry(&self, retry: u32) {
        let options = &self.options;
        let pause = retry_pause(options.retry_backoff, options.retry_backoff_cap, retry);
        // No sleep for no wait: a domain configured to retry at once needs no timer.
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}
