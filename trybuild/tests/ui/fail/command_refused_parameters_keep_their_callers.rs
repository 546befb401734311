// Mistakes: a command input taken by reference, a command taking `mut self`, an input of
// type `impl Trait`, and a command without its aggregate parameter: one error each, and the
// typed entry points keep the parameters as written, so their callers compile (instead of
// each reading "this method takes 1 argument but 2 arguments were supplied").
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

pub struct UserCommands;

#[command(UserEvent)]
impl UserCommands {
    async fn create(&self, user: &Agg<User>, name: &String) -> CommandResult<UserEvent> {
        let _ = user;
        Ok(UserEvent::Created { name: name.clone() }.into())
    }

    async fn rename(mut self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
        let _ = user;
        Ok(UserEvent::Created { name }.into())
    }

    async fn greet(&self, user: &Agg<User>, name: impl Into<String>) -> CommandResult<UserEvent> {
        let _ = user;
        Ok(UserEvent::Created { name: name.into() }.into())
    }

    async fn register(&self, name: String) -> CommandResult<UserEvent> {
        Ok(UserEvent::Created { name }.into())
    }
}

async fn run() -> Result<(), evtstore::Error> {
    let users = Domain::new(MemoryStore::new()).commands(UserCommands);
    users.create("alice", &"Alice".to_owned()).await?;
    users.rename("alice", "Alicia".into()).await?;
    users.greet("alice", "Ali").await?;
    users.register("bob", "Bob".into()).await?;
    users
        .execute("alice", &UserCommand::Rename { name: "Al".into() })
        .await?;
    Ok(())
}

fn main() {
    let _ = run();
}
