// A command method may take the call's metadata as `&Metadata`, before or after its inputs and
// by any path to evtstore's type; it is not a field of the command enum, and the typed entry
// points do not take it (it comes from `Commands::with_metadata` or `execute_with`).
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
    async fn create(
        &self,
        user: &Agg<User>,
        acting: &Metadata,
        name: String,
    ) -> CommandResult<UserEvent> {
        if acting.user.is_none() || user.exists() {
            return Err(CommandError::new("refused"));
        }
        Ok(UserEvent::Created { name }.into())
    }

    async fn disable(&self, user: &Agg<User>, acting: &evtstore::Metadata) -> CommandResult<UserEvent> {
        let _ = (user, acting);
        Ok(UserEvent::Disabled.into())
    }
}

async fn run() -> Result<(), evtstore::Error> {
    let users = Domain::new(MemoryStore::new()).commands(UserCommands);
    let admin = Metadata { user: Some("admin".into()), ..Metadata::default() };
    users.with_metadata(admin.clone()).create("alice", "Alice".into()).await?;
    users.execute_with("alice", &UserCommand::Disable, &admin).await?;
    let _ = UserCommand::Create { name: "Bob".into() };
    Ok(())
}

fn main() {
    let _ = run();
}
