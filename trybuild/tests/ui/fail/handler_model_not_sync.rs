// Mistake: a read model that is not `Sync` (a `Cell` inside), registered as a handler.
//
// Three errors, each on the user's code and each naming the cause: the `async fn` whose future
// is not `Send` (rustc's, one per implemented method), the handler trait's requirement that
// its implementor be a `HandlerModel` (rustc names the `Cell`), and evtstore's one sentence
// where the model is registered. No builder method reports it again: the builder takes any
// model, and only `stream`/`project` need a `HandlerModel` (to run it on the runtime's threads).
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
