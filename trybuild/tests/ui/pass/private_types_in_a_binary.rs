//! Private events, state and commands at the root of a binary, as in a small program: the
//! generated `pub` items stay warning-free.
#![deny(warnings)]

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type", rename_all = "camelCase")]
enum UserEvent {
    Created { name: String },
}

#[derive(Clone, Debug, Default)]
struct User {
    name: String,
}

impl UserEventFold for User {
    fn created(&mut self, name: &String) {
        self.name.clone_from(name);
    }
}

struct UserCommands;

#[command(UserEvent)]
impl UserCommands {
    async fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
        if user.exists() {
            return Err(CommandError::new("exists"));
        }
        Ok(UserEvent::Created { name }.into())
    }
}

fn main() {
    let domain = Domain::new(MemoryStore::new());
    let users = domain.commands(UserCommands);
    let alice = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(users.create("alice", "Alice".into()))
        .unwrap();
    assert_eq!(alice.name, "Alice");
}
