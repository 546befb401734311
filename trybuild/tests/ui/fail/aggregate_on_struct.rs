// Mistake: `#[derive(Aggregate)]` on a struct instead of an event enum.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
pub struct UserEvent {
    pub name: String,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
}

fn main() {}
