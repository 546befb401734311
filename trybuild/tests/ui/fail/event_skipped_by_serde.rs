// Mistake: an event variant that serde skips, so it could never be stored.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type")]
pub enum UserEvent {
    Created { name: String },
    #[serde(skip)]
    Forgotten,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
}

impl UserEventFold for User {
    fn created(&mut self, name: &String) {
        self.name.clone_from(name);
    }
    fn forgotten(&mut self) {}
}

fn main() {}
