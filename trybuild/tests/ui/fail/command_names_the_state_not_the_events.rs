// Mistake: `#[command(..)]` names the state instead of the event enum; one error, and the
// command set's callers compile.
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

#[command(User)]
impl UserCommands {
    async fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
        let _ = user;
        Ok(UserEvent::Created { name }.into())
    }

    async fn disable(&self, user: &Agg<User>) -> CommandResult<UserEvent> {
        let _ = user;
        Ok(UserEvent::Disabled.into())
    }
}

async fn run() -> Result<(), evtstore::Error> {
    let users = Domain::new(MemoryStore::new()).commands(UserCommands);
    let user = users.create("alice", "Alice".into()).await?;
    assert!(user.enabled);
    users.execute("alice", &UserCommand::Disable).await?;
    Ok(())
}

fn main() {
    let _ = run();
}
