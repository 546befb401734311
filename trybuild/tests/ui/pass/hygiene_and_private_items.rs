//! Field names that the generated code also uses, keyword variant names, private types, the
//! `name` and `vis` arguments, constructors in a command impl, and one model handling two
//! streams whose events share names.

#![deny(warnings)]

use std::sync::Mutex;

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

mod domain {
    use super::*;

    #[derive(Aggregate, Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[aggregate(stream = "odd", state = Odd)]
    #[serde(tag = "type", rename_all = "camelCase")]
    pub(crate) enum OddEvent {
        Created {
            event: String,
            state: u8,
            meta: u8,
            aggregate_id: u8,
            model: u8,
            value: u8,
        },
        Match,
    }

    #[derive(Clone, Debug, Default)]
    pub(crate) struct Odd {
        pub(crate) total: u32,
        pub(crate) matched: bool,
    }

    impl OddEventFold for Odd {
        fn created(
            &mut self,
            event: &String,
            state: &u8,
            meta: &u8,
            aggregate_id: &u8,
            model: &u8,
            value: &u8,
        ) {
            let parts = [*state, *meta, *aggregate_id, *model, *value];
            self.total = u32::try_from(event.len()).unwrap()
                + parts.iter().map(|&part| u32::from(part)).sum::<u32>();
        }
        fn r#match(&mut self) {
            self.matched = true;
        }
    }

    pub(crate) struct OddCommands {
        pub(crate) bonus: u8,
    }

    #[command(OddEvent, name = OddCmd, vis = pub(crate))]
    impl OddCommands {
        pub(crate) fn new() -> Self {
            OddCommands { bonus: 1 }
        }

        async fn create(&self, odd: &Agg<Odd>, event: String) -> CommandResult<OddEvent> {
            let _ = odd;
            Ok(OddEvent::Created {
                event,
                state: self.bonus,
                meta: 0,
                aggregate_id: 0,
                model: 0,
                value: 0,
            }
            .into())
        }

        /// Matches twice, or not at all when matched already.
        async fn r#match(&self, odd: &Agg<Odd>) -> CommandResult<OddEvent> {
            if odd.matched {
                return Ok(Events::none());
            }
            Ok(vec![OddEvent::Match, OddEvent::Match].into())
        }
    }

    #[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
    #[aggregate(stream = "other", state = Odd)]
    #[serde(tag = "type")]
    pub(crate) enum OtherEvent {
        Created(Payload),
    }

    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub(crate) struct Payload {
        pub(crate) n: u32,
    }

    impl OtherEventFold for Odd {
        fn created(&mut self, event: &Payload) {
            self.total += event.n;
        }
    }
}

use domain::{OddCmd, OddCommands, OddCommandsExt, OddEvent, OddEventHandler, OtherEvent, OtherEventHandler};

#[derive(Default)]
struct Both(Mutex<Vec<&'static str>>);

impl OddEventHandler for Both {
    async fn created(
        &self,
        _: &str,
        _: &String,
        _: &u8,
        _: &u8,
        _: &u8,
        _: &u8,
        _: &u8,
        _: &EventMeta,
    ) -> HandlerResult {
        self.0.lock().unwrap().push("odd created");
        Ok(())
    }
}

impl OtherEventHandler for Both {
    async fn created(&self, _: &str, _: &domain::Payload, _: &EventMeta) -> HandlerResult {
        self.0.lock().unwrap().push("other created");
        Ok(())
    }
}

async fn run() -> Result<(), evtstore::Error> {
    let domain = Domain::new(MemoryStore::new());
    let odd = domain.commands(OddCommands::new());
    assert_eq!(odd.create("a", "four".into()).await?.total, 5);
    assert_eq!(odd.r#match("a").await?.version, 3);
    assert_eq!(odd.r#match("a").await?.version, 3);
    let command: OddCmd = serde_json::from_str(r#"{"type":"match"}"#).unwrap();
    assert_eq!(odd.execute("b", &command).await?.version, 2);
    let agg = domain.load::<OddEvent>("a").await?;
    domain
        .append::<OtherEvent>(
            evtstore::Agg::new("x"),
            vec![OtherEvent::Created(domain::Payload { n: 7 })],
            &Metadata::default(),
        )
        .await?;
    assert!(agg.matched);
    let both = domain
        .handler("both", Both::default())
        .stream::<OtherEvent>()
        .stream::<OddEvent>()
        .build();
    assert_eq!(both.run_once().await?, 6);
    assert_eq!(*both.model().0.lock().unwrap(), ["odd created", "other created"]);
    Ok(())
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run())
        .unwrap();
}
