// Mistake: An event variant holding two unnamed values.
//
// Two errors, both on `Created(String, u32)`: ours, which says how to write the event, and
// serde's own derive, which refuses tuple variants of a tagged enum. A derive cannot stop
// another derive on the same enum (it does not even see the `#[derive(..)]` list), so serde's
// error stays; everything after them (the fold, the handler and the `Aggregate` impl) is
// kept quiet by the fallback, where the issue saw 11 errors.
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
