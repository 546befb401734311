// Mistake: Projecting with a model written for another store's transaction.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    Created { name: String },
}

#[derive(Clone, Debug, Default)]
pub struct User;

impl UserEventFold for User {
    fn created(&mut self, _name: &String) {}
}

/// Stands in for another backend's transaction.
pub struct OtherTransaction;

#[derive(Default)]
pub struct UserNames;

impl UserEventProjection<OtherTransaction> for UserNames {}

fn main() {
    let domain = Domain::new(MemoryStore::new());
    let _names = domain
        .handler("names", UserNames)
        .project::<UserEvent>()
        .build();
}
