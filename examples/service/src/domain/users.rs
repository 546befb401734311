//! Users: who may post.

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

/// Events of the `users` stream, stored as `{"type":"created","name":..}` and so on, as the
/// TypeScript evtstore's example stores them.
#[derive(Aggregate, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    /// The user signed up.
    Created {
        /// The name shown with their posts.
        name: String,
    },
    /// The user may no longer post.
    Disabled,
    /// The user may post again.
    Enabled,
}

/// A user as commands see it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct User {
    /// The user's name.
    pub name: String,
    /// Whether the user may post.
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
    fn enabled(&mut self) {
        self.enabled = true;
    }
}

/// The commands on users. Only the user themself may disable or enable their account: the
/// acting user comes from the call's metadata, never from the command's fields.
#[derive(Debug)]
pub struct UserCommands;

#[command(UserEvent)]
impl UserCommands {
    /// Signs a user up; the aggregate id is the user's id.
    async fn create(&self, user: &Agg<User>, name: String) -> CommandResult<UserEvent> {
        if user.exists() {
            return Err(CommandError::new("user already exists"));
        }
        if name.trim().is_empty() {
            return Err(CommandError::new("a user needs a name"));
        }
        Ok(UserEvent::Created { name }.into())
    }

    /// Stops the user from posting.
    async fn disable(&self, user: &Agg<User>, acting: &Metadata) -> CommandResult<UserEvent> {
        acting_as_self(user, acting)?;
        Ok(user.enabled.then_some(UserEvent::Disabled).into())
    }

    /// Lets the user post again.
    async fn enable(&self, user: &Agg<User>, acting: &Metadata) -> CommandResult<UserEvent> {
        acting_as_self(user, acting)?;
        Ok((!user.enabled).then_some(UserEvent::Enabled).into())
    }
}

/// Refuses unless the user exists and is the one acting.
fn acting_as_self(user: &Agg<User>, acting: &Metadata) -> Result<(), CommandError> {
    if !user.exists() {
        return Err(CommandError::new("no such user"));
    }
    if acting.user.as_deref() != Some(user.aggregate_id.as_str()) {
        return Err(CommandError::new("only the user may change their account"));
    }
    Ok(())
}
