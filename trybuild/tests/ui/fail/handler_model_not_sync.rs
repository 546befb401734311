// Mistake: a read model that is not `Sync` (a `Cell` inside), registered as a handler.
//
// Not yet one error: the `Sync` bounds that fail are `Domain::handler`'s and the builder's
// (evtstore's, not the macro's), next to the handler trait's own `Sync` and the `Send` of
// each method's future. The snapshot records that cascade until evtstore names the model
// in one sentence.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    Created { name: String },
    Disabled,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
    pub enabled: bool,
}

impl UserEventFold for User {
    fn created(&mut self, name: &String) {
        self.name.clone_from(name);
        self.enabled = true;
    }
    fn disabled(&mut self) {
        self.enabled = false;
    }
}

#[derive(Default)]
struct Names {
    count: std::cell::Cell<u32>,
}

impl UserEventHandler for Names {
    async fn created(&self, _: &str, _: &String, _: &EventMeta) -> HandlerResult {
        self.count.set(self.count.get() + 1);
        Ok(())
    }
}

fn main() {
    let domain = Domain::new(MemoryStore::new());
    let _names = domain
        .handler("names", Names::default())
        .stream::<UserEvent>()
        .build();
}
