// Mistake: an upcaster reads the enum's current schema (2), so it would never run: the crate
// does not compile.
use evtstore::prelude::*;
use evtstore::Upcaster;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User, schema = 2, upcasters = USER_UPCASTERS)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    Created { name: String },
}

const USER_UPCASTERS: &[Upcaster] = &[
    Upcaster::rename_type("registered", 1, "created"),
    Upcaster::rename_field("created", 2, "name", "fullName"),
];

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
}

impl UserEventFold for User {
    fn created(&mut self, name: &String) {
        self.name.clone_from(name);
    }
}

fn main() {}
