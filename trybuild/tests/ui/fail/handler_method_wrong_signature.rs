// Mistake: A handler method taking a field by value instead of by reference.
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

pub struct Names;

impl UserEventHandler for Names {
    async fn created(&self, id: &str, name: String, meta: &EventMeta) -> HandlerResult {
        let _ = (id, name, meta);
        Ok(())
    }
}

fn main() {}
