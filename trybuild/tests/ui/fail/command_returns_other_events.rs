// Mistake: A command returning the events of another aggregate.
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

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "posts", state = Post)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PostEvent {
    PostCreated { content: String },
}

#[derive(Clone, Debug, Default)]
pub struct Post {
    pub content: String,
}

impl PostEventFold for Post {
    fn post_created(&mut self, content: &String) {
        self.content.clone_from(content);
    }
}

pub struct UserCommands;

#[command(UserEvent)]
impl UserCommands {
    async fn create(&self, user: &Agg<User>, content: String) -> CommandResult<PostEvent> {
        let _ = user;
        Ok(PostEvent::PostCreated { content }.into())
    }
}

fn main() {}
