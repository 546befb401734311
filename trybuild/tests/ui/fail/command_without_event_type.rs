// Mistake: `#[command]` without the event enum argument.
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

#[command]
impl UserCommands {
    async fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
        let _ = user;
        Ok(UserEvent::Created { name }.into())
    }
}

fn main() {}
