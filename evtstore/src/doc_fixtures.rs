//! A small users domain written by hand, so that doc examples stay short. Not a public API.

#![allow(missing_docs, missing_debug_implementations)]

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::{
    Agg, Aggregate, CommandError, CommandResult, CommandSet, EventMeta, Events, HandledBy,
    HandlerResult,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    Created { name: String },
    Disabled,
    Enabled,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub enabled: bool,
}

impl Aggregate for UserEvent {
    type State = User;
    const STREAM: &'static str = "users";
    const EVENT_TYPES: &'static [&'static str] = &["created", "disabled", "enabled"];

    fn event_type(&self) -> &'static str {
        match self {
            UserEvent::Created { .. } => "created",
            UserEvent::Disabled => "disabled",
            UserEvent::Enabled => "enabled",
        }
    }

    fn fold(state: &mut User, event: &Self) {
        match event {
            UserEvent::Created { name } => {
                state.name.clone_from(name);
                state.enabled = true;
            }
            UserEvent::Disabled => state.enabled = false,
            UserEvent::Enabled => state.enabled = true,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserCommand {
    Create { name: String },
    Disable,
}

pub struct UserCommands;

impl CommandSet for UserCommands {
    type Aggregate = UserEvent;
    type Command = UserCommand;

    async fn decide(&self, user: &Agg<User>, command: &UserCommand) -> CommandResult<UserEvent> {
        match command {
            UserCommand::Create { .. } if user.exists() => Err(CommandError::new("user exists")),
            UserCommand::Create { name } => Ok(UserEvent::Created { name: name.clone() }.into()),
            UserCommand::Disable if !user.enabled => Ok(Events::none()),
            UserCommand::Disable => Ok(UserEvent::Disabled.into()),
        }
    }
}

#[derive(Default)]
pub struct CreatedUsers(pub AtomicUsize);

impl HandledBy<CreatedUsers> for UserEvent {
    async fn dispatch(model: &CreatedUsers, _: &str, event: &Self, _: &EventMeta) -> HandlerResult {
        if let UserEvent::Created { .. } = event {
            model.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}
