// Mistake: a command's `&Metadata` parameter names the application's own `Metadata` type, not
// evtstore's. One error, on that parameter's type.
use evtstore::prelude::{Agg, Aggregate, CommandError, CommandResult, Domain, MemoryStore, command};
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

/// The application's own metadata, which evtstore does not know.
pub struct Metadata {
    pub user: String,
}

pub struct UserCommands;

#[command(UserEvent)]
impl UserCommands {
    async fn disable(&self, user: &Agg<User>, acting: &Metadata) -> CommandResult<UserEvent> {
        if acting.user != user.aggregate_id {
            return Err(CommandError::new("only the user may"));
        }
        Ok(UserEvent::Disabled.into())
    }
}

async fn run() -> Result<(), evtstore::Error> {
    let users = Domain::new(MemoryStore::new()).commands(UserCommands);
    users.disable("alice").await?;
    Ok(())
}

fn main() {
    let _ = run();
}
