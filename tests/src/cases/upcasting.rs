//! Upcasting: events stored by an older version of an enum (planted as the JSON that version
//! wrote) are read through upcasters in loads, folds, history and handlers; the stored rows are
//! never rewritten; a snapshot of the old fold is rebuilt from the upcast events.

use std::sync::Mutex;

use evtstore::prelude::*;
use evtstore::{JsonObject, Snapshot, Upcaster};
use serde::{Deserialize, Serialize};

use crate::ReadEvents;
use crate::cases::append_raw;

/// The `accounts` stream at schema 2. Schema 1 stored:
/// - `{"type":"opened","owner":".."}`: the type is now `accountOpened` and the field `holder`;
/// - `{"type":"deposited","cents":n}`: `currency` was added; old deposits were all in EUR,
///   except on accounts whose id starts with `us-`, which were in USD (a computed default);
/// - `{"type":"transferred","cents":n,"to":".."}`: split into `withdrawn` and `sent`.
#[derive(Aggregate, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[aggregate(
    stream = "accounts",
    state = Account,
    persist = "v2",
    schema = 2,
    upcasters = ACCOUNT_UPCASTERS
)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AccountEvent {
    /// The account was opened.
    AccountOpened {
        /// Who holds it.
        holder: String,
    },
    /// Money came in.
    Deposited {
        /// How much, in cents.
        cents: i64,
        /// In which currency.
        currency: String,
    },
    /// Money went out.
    Withdrawn {
        /// How much, in cents.
        cents: i64,
    },
    /// Money was sent to another account.
    Sent {
        /// The other account.
        to: String,
    },
}

/// The upcasters from schema 1 to 2, in the order they apply.
pub const ACCOUNT_UPCASTERS: &[Upcaster] = &[
    Upcaster::rename_type("opened", 1, "accountOpened"),
    Upcaster::rename_field("accountOpened", 1, "owner", "holder"),
    Upcaster::with("deposited", 1, |mut event, context| {
        let currency = if context.aggregate_id.starts_with("us-") {
            "USD"
        } else {
            "EUR"
        };
        event.insert("currency".into(), currency.into());
        Ok(vec![event])
    }),
    Upcaster::with("transferred", 1, split_transfer),
];

/// `transferred` becomes `withdrawn` then `sent`.
fn split_transfer(
    event: JsonObject,
    _: &evtstore::UpcastContext<'_>,
) -> Result<Vec<JsonObject>, String> {
    let cents = event.get("cents").cloned().ok_or("no `cents`")?;
    let to = event.get("to").cloned().ok_or("no `to`")?;
    let withdrawn = serde_json::json!({ "type": "withdrawn", "cents": cents });
    let sent = serde_json::json!({ "type": "sent", "to": to });
    match (withdrawn, sent) {
        (serde_json::Value::Object(withdrawn), serde_json::Value::Object(sent)) => {
            Ok(vec![withdrawn, sent])
        }
        _ => Err("not objects".into()),
    }
}

/// An account as folded by schema 2.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Who holds it.
    pub holder: String,
    /// The balance in cents.
    pub cents: i64,
    /// The currency of the last deposit.
    pub currency: String,
    /// Where money was sent.
    pub sent_to: Vec<String>,
}

impl AccountEventFold for Account {
    fn account_opened(&mut self, holder: &String) {
        self.holder.clone_from(holder);
    }
    fn deposited(&mut self, cents: &i64, currency: &String) {
        self.cents += cents;
        self.currency.clone_from(currency);
    }
    fn withdrawn(&mut self, cents: &i64) {
        self.cents -= cents;
    }
    fn sent(&mut self, to: &String) {
        self.sent_to.push(to.clone());
    }
}

/// Deposits and sends money at schema 2.
#[derive(Debug)]
pub struct AccountCommands;

#[command(AccountEvent)]
impl AccountCommands {
    /// Deposit `cents` in `currency`.
    async fn deposit(
        &self,
        _account: &Agg<Account>,
        cents: i64,
        currency: String,
    ) -> CommandResult<AccountEvent> {
        Ok(AccountEvent::Deposited { cents, currency }.into())
    }
}

/// What a handler saw: each event's aggregate, a summary and version, in order.
#[derive(Debug, Default)]
pub struct Seen(Mutex<Vec<(String, String, u64)>>);

impl AccountEventHandler for Seen {
    async fn account_opened(&self, _: &str, holder: &String, meta: &EventMeta) -> HandlerResult {
        self.push(format!("accountOpened:{holder}"), meta);
        Ok(())
    }
    async fn deposited(
        &self,
        _: &str,
        cents: &i64,
        currency: &String,
        meta: &EventMeta,
    ) -> HandlerResult {
        self.push(format!("deposited:{cents}{currency}"), meta);
        Ok(())
    }
    async fn withdrawn(&self, _: &str, cents: &i64, meta: &EventMeta) -> HandlerResult {
        self.push(format!("withdrawn:{cents}"), meta);
        Ok(())
    }
    async fn sent(&self, _: &str, to: &String, meta: &EventMeta) -> HandlerResult {
        self.push(format!("sent:{to}"), meta);
        Ok(())
    }
}

impl Seen {
    fn push(&self, what: String, meta: &EventMeta) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((meta.aggregate_id.clone(), what, meta.version));
    }
}

/// The JSON schema 1 wrote for the account `id`, version by version.
const SCHEMA_1: [&str; 3] = [
    r#"{"type":"opened","owner":"Alice"}"#,
    r#"{"type":"deposited","cents":500}"#,
    r#"{"type":"transferred","cents":200,"to":"bob"}"#,
];

/// Events of schema 1 are upcast in loads, history and handlers; events appended at schema 2
/// carry their schema and are read as they are; the stored rows keep the old JSON; an
/// aggregate whose id decides a computed default gets it.
pub async fn old_events_are_read_through_upcasters<S: Store>(store: S) {
    for id in ["acc-1", "us-2"] {
        for (json, version) in SCHEMA_1.iter().zip(1..) {
            append_raw(&store, "accounts", id, version, json)
                .await
                .unwrap();
        }
    }
    let domain = Domain::new(store.clone());
    let accounts = domain.commands(AccountCommands);
    let loaded = accounts.load("acc-1").await.unwrap();
    let expected = Account {
        holder: "Alice".into(),
        cents: 300,
        currency: "EUR".into(),
        sent_to: vec!["bob".into()],
    };
    assert_eq!((loaded.version, &loaded.state), (3, &expected));
    assert_eq!(accounts.load("us-2").await.unwrap().currency, "USD");
    // A new event, at schema 2, after the old ones.
    let after = accounts.deposit("acc-1", 100, "GBP".into()).await.unwrap();
    assert_eq!(
        (after.version, after.cents, after.currency.as_str()),
        (4, 400, "GBP")
    );

    // History: the split event is two events with the stored event's metadata.
    let history = crate::fresh_domain(&domain)
        .history::<AccountEvent>("acc-1")
        .await
        .unwrap();
    let events: Vec<(&AccountEvent, u64)> =
        history.iter().map(|r| (&r.event, r.meta.version)).collect();
    assert_eq!(
        events,
        [
            (
                &AccountEvent::AccountOpened {
                    holder: "Alice".into()
                },
                1
            ),
            (
                &AccountEvent::Deposited {
                    cents: 500,
                    currency: "EUR".into()
                },
                2
            ),
            (&AccountEvent::Withdrawn { cents: 200 }, 3),
            (&AccountEvent::Sent { to: "bob".into() }, 3),
            (
                &AccountEvent::Deposited {
                    cents: 100,
                    currency: "GBP".into()
                },
                4
            ),
        ]
    );
    assert_eq!(history[2].meta.cursor, history[3].meta.cursor);

    // Handlers see the upcast events, in order.
    let handler = domain
        .handler("accounts-seen", Seen::default())
        .stream::<AccountEvent>()
        .build();
    handler.run_once().await.unwrap();
    let seen = handler.model().0.lock().unwrap().clone();
    let of = |id: &str| -> Vec<(String, u64)> {
        seen.iter()
            .filter(|(aggregate_id, _, _)| aggregate_id == id)
            .map(|(_, what, version)| (what.clone(), *version))
            .collect()
    };
    let expected = [
        ("accountOpened:Alice", 1),
        ("deposited:500EUR", 2),
        ("withdrawn:200", 3),
        ("sent:bob", 3),
        ("deposited:100GBP", 4),
    ]
    .map(|(what, version)| (what.to_owned(), version));
    assert_eq!(of("acc-1"), expected);
    assert_eq!(of("us-2")[1], ("deposited:500USD".to_owned(), 2));
    assert_eq!(seen.len(), 9, "{seen:?}");

    // The stored rows are as schema 1 wrote them; the new one carries its schema.
    let stored = store
        .read_events(&["accounts"], evtstore::Cursor::START, 100)
        .await
        .unwrap();
    let acc_1: Vec<&str> = stored
        .iter()
        .filter(|event| event.aggregate_id == "acc-1")
        .map(|event| event.event.as_str())
        .collect();
    assert_eq!(acc_1[..3], SCHEMA_1);
    let newest: serde_json::Value = serde_json::from_str(acc_1[3]).unwrap();
    assert_eq!(newest["$schema"], 2, "{newest}");
}

/// A snapshot of the schema-1 fold (tag `v1`, a state shape that no longer decodes) is
/// ignored: the aggregate is rebuilt from the upcast events, and the next command stores a
/// snapshot under the new tag, which later loads use.
pub async fn old_snapshot_is_rebuilt_from_upcast_events<S: Store>(store: S) {
    for (json, version) in SCHEMA_1.iter().zip(1..) {
        append_raw(&store, "accounts", "acc-1", version, json)
            .await
            .unwrap();
    }
    let old = Snapshot {
        version: 3,
        tag: "v1".into(),
        state: r#"{"owner":"Alice","balance":300}"#.into(),
    };
    store
        .save_snapshot("accounts", "acc-1", &old)
        .await
        .unwrap();
    let domain = Domain::new(store.clone());
    let accounts = domain.commands(AccountCommands);
    let loaded = accounts.load("acc-1").await.unwrap();
    assert_eq!(
        (loaded.version, loaded.holder.as_str(), loaded.cents),
        (3, "Alice", 300)
    );
    accounts.deposit("acc-1", 100, "EUR".into()).await.unwrap();
    let snapshot = store.snapshot("accounts", "acc-1").await.unwrap().unwrap();
    assert_eq!((snapshot.tag.as_str(), snapshot.version), ("v2", 4));
    let state: Account = serde_json::from_str(&snapshot.state).unwrap();
    assert_eq!((state.cents, state.sent_to.len()), (400, 1));
    let reloaded = crate::fresh_domain(&domain)
        .load::<AccountEvent>("acc-1")
        .await
        .unwrap();
    assert_eq!((reloaded.version, reloaded.state), (4, state));
}
