//! The macros' output is warning-free under strict lints: this file is compiled by
//! `cargo test` (rustc lints) and `cargo clippy --all-targets` (clippy's pedantic group).
#![deny(warnings, missing_docs, clippy::pedantic, unused_qualifications)]

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

/// A payload struct for a newtype variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// Where to.
    pub to: String,
}

/// Events of every supported shape.
#[derive(Aggregate, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[aggregate(stream = "things", state = Thing, persist = "v1")]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ThingEvent {
    /// Made.
    Made {
        /// Its name.
        name: String,
        /// An optional weight.
        weight: Option<u64>,
        /// A count.
        count: u32,
    },
    /// Moved.
    Moved(Moved),
    /// Renamed to a custom type name.
    #[serde(rename = "gone")]
    Removed,
}

/// The state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thing {
    /// Its name.
    pub name: String,
    /// Where it is.
    pub place: String,
    /// Whether it was removed.
    pub removed: bool,
}

impl ThingEventFold for Thing {
    fn made(&mut self, name: &String, _weight: &Option<u64>, _count: &u32) {
        self.name.clone_from(name);
    }
    fn moved(&mut self, event: &Moved) {
        self.place.clone_from(&event.to);
    }
    fn removed(&mut self) {
        self.removed = true;
    }
}

/// Commands on things, carrying a domain of any store.
#[derive(Debug)]
pub struct ThingCommands<S> {
    /// The domain, to look at other aggregates.
    pub domain: Domain<S>,
}

#[command(ThingEvent)]
impl<S: Store> ThingCommands<S> {
    /// Makes a thing.
    async fn make(
        &self,
        thing: &Agg<Thing>,
        name: String,
        count: u32,
    ) -> CommandResult<ThingEvent> {
        if thing.exists() {
            return Err(CommandError::new("exists"));
        }
        Ok(ThingEvent::Made {
            name,
            weight: None,
            count,
        }
        .into())
    }

    /// Moves a thing.
    async fn move_to(&self, thing: &Agg<Thing>, to: String) -> CommandResult<ThingEvent> {
        let other = self
            .domain
            .load::<ThingEvent>(&to)
            .await
            .map_err(|error| CommandError::new(error.to_string()))?;
        if other.exists() || !thing.exists() {
            return Err(CommandError::new("cannot move there"));
        }
        Ok(ThingEvent::Moved(Moved { to }).into())
    }

    async fn remove(&self, thing: &Agg<Thing>) -> CommandResult<ThingEvent> {
        Ok(vec![ThingEvent::Removed; usize::from(!thing.removed)].into())
    }
}

/// A read model.
#[derive(Debug, Default)]
pub struct Counter(std::sync::atomic::AtomicUsize);

impl ThingEventHandler for Counter {
    async fn made(
        &self,
        _aggregate_id: &str,
        _name: &String,
        _weight: &Option<u64>,
        _count: &u32,
        _meta: &EventMeta,
    ) -> HandlerResult {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

#[test]
fn strict_lints_hold_and_the_shapes_run() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let domain = Domain::new(MemoryStore::new());
            let things = domain.commands(ThingCommands {
                domain: domain.clone(),
            });
            things.make("a", "A".into(), 2).await?;
            let moved = things.move_to("a", "b".into()).await?;
            assert_eq!(moved.place, "b");
            assert!(things.remove("a").await?.removed);
            assert_eq!(things.remove("a").await?.version, 3);
            let types: Vec<_> = domain
                .history::<ThingEvent>("a")
                .await?
                .into_iter()
                .map(|recorded| recorded.event.event_type())
                .collect();
            assert_eq!(types, ["made", "moved", "gone"]);
            let handler = domain
                .handler("counter", Counter::default())
                .stream::<ThingEvent>()
                .build();
            assert_eq!(handler.run_once().await?, 3);
            assert_eq!(
                handler.model().0.load(std::sync::atomic::Ordering::Relaxed),
                1
            );
            Ok::<_, evtstore::Error>(())
        })
        .unwrap();
}
