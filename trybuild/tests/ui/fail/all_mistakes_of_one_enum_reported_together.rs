// Mistake: Several mistakes in one enum: all are reported at once, nothing else.
use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = users, colour = "blue")]
pub enum UserEvent {
    Created { name: String },
    Moved(u32, u32),
    Disabled,
}

#[derive(Clone, Debug, Default)]
pub struct User {
    pub name: String,
}

impl UserEventFold for User {
    fn created(&mut self, name: &String) {
        self.name.clone_from(name);
    }
    fn disabled(&mut self) {}
}

fn main() {}
