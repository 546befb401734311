//! The users/posts domain: what happened (events), what it means (folds) and what may happen
//! next (commands). The HTTP layer knows none of these rules; it hands commands over with the
//! acting user as metadata.

mod posts;
mod users;

pub use posts::{
    MAX_POST_CHARS, Post, PostCommand, PostCommands, PostCommandsExt, PostEvent, PostEventFold,
    PostEventHandler, PostEventProjection,
};
pub use users::{
    User, UserCommand, UserCommands, UserCommandsExt, UserEvent, UserEventFold, UserEventHandler,
    UserEventProjection,
};
