// Mistake: upcasters given without a schema above 1, so that no stored event would ever be
// older than the enum: one error, at `upcasters`.
use evtstore::prelude::*;
use evtstore::Upcaster;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User, upcasters = USER_UPCASTERS)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    Created { name: String },
}

const USER_UPCASTERS: &[Upcaster] = &[Upcaster::rename_type("registered", 1, "created")];

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
