// Mistake: The event enum is tagged, but not with a `type` field.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "kind")]
pub enum UserEvent {
    Created { name: String },
    Disabled,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
}

impl UserEventFold for User {
    fn created(&mut self, name: &String) {
        self.name.clone_from(name);
    }
    fn disabled(&mut self) {}
}

fn main() {}
