// Mistake: a command input whose type is neither `Serialize` nor `Deserialize`: one sentence
// for each missing derive, on that type.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    Created { name: String },
    Disabled,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
    pub enabled: bool,
}

impl UserEventFold for User {
    fn created(&mut self, name: &String) {
        self.name.clone_from(name);
        self.enabled = true;
    }
    fn disabled(&mut self) {
        self.enabled = false;
    }
}

#[derive(Clone, Debug)]
pub struct Name(pub String);

pub struct UserCommands;

#[command(UserEvent)]
impl UserCommands {
    async fn create(&self, user: &Agg<User>, name: Name) -> CommandResult<UserEvent> {
        let _ = user;
        Ok(UserEvent::Created { name: name.0 }.into())
    }
}

async fn run() -> Result<(), evtstore::Error> {
    let users = Domain::new(MemoryStore::new()).commands(UserCommands);
    users.create("alice", Name("Alice".into())).await?;
    Ok(())
}

fn main() {
    let _ = run();
}
