// Mistake: The state type does not implement the generated fold trait at all.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type")]
pub enum UserEvent {
    Created { name: String },
    Disabled,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
}

fn main() {}
