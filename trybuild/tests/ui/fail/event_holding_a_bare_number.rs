// Mistake: a single-value event holding a number, which cannot be stored next to a `type` field.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type")]
pub enum UserEvent {
    AgeSet(u32),
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
}

impl UserEventFold for User {
    fn age_set(&mut self, _: &u32) {}
}

fn main() {}
