// Mistake: Mistakes in commands are reported once; their callers compile against the stubs.
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
    fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
        let _ = user;
        Ok(UserEvent::Created { name }.into())
    }

    async fn disable(&self) -> CommandResult<UserEvent> {
        Ok(UserEvent::Disabled.into())
    }
}

async fn run() -> Result<(), evtstore::Error> {
    let users = Domain::new(MemoryStore::new()).commands(UserCommands);
    users.create("alice", "Alice".into()).await?;
    users.execute("alice", &UserCommand::Disable).await?;
    Ok(())
}

fn main() {
    let _ = run();
}
