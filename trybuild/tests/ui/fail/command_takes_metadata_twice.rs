// Mistake: a command takes the call's metadata twice. One error, on the second parameter; the
// typed entry point still takes no metadata, so its caller compiles.
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
    async fn disable(
        &self,
        user: &Agg<User>,
        acting: &Metadata,
        again: &Metadata,
    ) -> CommandResult<UserEvent> {
        let _ = (user, acting, again);
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
