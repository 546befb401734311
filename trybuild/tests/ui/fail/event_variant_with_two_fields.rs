// Mistake: An event variant holding two unnamed values.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type")]
pub enum UserEvent {
    Created(String, u32),
    Disabled,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
}

impl UserEventFold for User {
    fn disabled(&mut self) {}
}

fn main() {}
