// Mistake: the event enum misses its stream; the fold, the commands and the handler that use
// it report nothing more.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(state = User)]
#[serde(tag = "type")]
pub enum UserEvent {
    Created { name: String },
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
}

impl UserEventFold for User {
    fn created(&mut self, name: &String) {
        self.name.clone_from(name);
    }
}

pub struct UserCommands;

#[command(UserEvent)]
impl UserCommands {
    async fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
        let _ = user;
        Ok(UserEvent::Created { name }.into())
    }
}

struct Names;

impl UserEventHandler for Names {
    async fn created(&self, _: &str, _: &String, _: &EventMeta) -> HandlerResult {
        Ok(())
    }
}

fn main() {
    let domain = Domain::new(MemoryStore::new());
    let _users = domain.commands(UserCommands);
    let _names = domain.handler("names", Names).stream::<UserEvent>().build();
}
