#![deny(warnings)]

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Renamed {
    pub to: String,
}

#[derive(Aggregate, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    Created { name: String, age: u32 },
    Renamed(Renamed),
    Disabled,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct User {
    pub name: String,
    pub age: u32,
    pub enabled: bool,
}

impl UserEventFold for User {
    fn created(&mut self, name: &String, age: &u32) {
        self.name.clone_from(name);
        self.age = *age;
        self.enabled = true;
    }
    fn renamed(&mut self, event: &Renamed) {
        self.name.clone_from(&event.to);
    }
    fn disabled(&mut self) {
        self.enabled = false;
    }
}

fn main() {
    assert_eq!(UserEvent::STREAM, "users");
    assert_eq!(UserEvent::EVENT_TYPES, ["created", "renamed", "disabled"]);
    let mut user = User::default();
    for event in [
        UserEvent::Created { name: "a".into(), age: 3 },
        UserEvent::Renamed(Renamed { to: "b".into() }),
        UserEvent::Disabled,
    ] {
        UserEvent::fold(&mut user, &event);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], event.event_type());
    }
    assert_eq!(user, User { name: "b".into(), age: 3, enabled: false });
}
