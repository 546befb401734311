//! The users/posts domain: what happened (events), what it means (folds) and what may happen
//! next (commands). The HTTP layer knows none of these rules; it hands commands over with the
//! acting user as metadata.

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

/// Events of the `posts` stream, stored as the TypeScript evtstore's example stores them
/// (`{"type":"postCreated","content":..,"userId":..}`).
#[derive(Aggregate, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[aggregate(stream = "posts", state = Post)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum PostEvent {
    /// A user wrote a post.
    PostCreated {
        /// What the post says.
        content: String,
        /// Who wrote it.
        user_id: String,
    },
    /// Its author took the post down.
    PostArchived,
}

/// A post as commands see it.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    /// Who wrote it.
    pub user_id: String,
    /// What it says.
    pub content: String,
    /// Whether it was taken down.
    pub archived: bool,
}

impl PostEventFold for Post {
    fn post_created(&mut self, content: &String, user_id: &String) {
        self.content.clone_from(content);
        self.user_id.clone_from(user_id);
    }
    fn post_archived(&mut self) {
        self.archived = true;
    }
}

/// The longest post, in characters.
pub const MAX_POST_CHARS: usize = 10_000;

/// The commands on posts. They carry the domain, to check the author.
#[derive(Debug)]
pub struct PostCommands<S> {
    /// The domain the author is loaded from.
    pub domain: Domain<S>,
}

#[command(PostEvent)]
impl<S: Store> PostCommands<S> {
    /// Writes a post as the acting user, who must exist and be enabled.
    async fn create_post(
        &self,
        post: &Agg<Post>,
        content: String,
        acting: &Metadata,
    ) -> CommandResult<PostEvent> {
        if post.exists() {
            return Err(CommandError::new("post already exists"));
        }
        let Some(user_id) = acting.user.clone() else {
            return Err(CommandError::new("only a signed-in user may post"));
        };
        if content.trim().is_empty() || content.chars().count() > MAX_POST_CHARS {
            return Err(CommandError::new(format!(
                "a post has 1 to {MAX_POST_CHARS} characters"
            )));
        }
        // `?`: a store failing here fails the command with its own error (503), not a refusal.
        let author = self.domain.load::<UserEvent>(&user_id).await?;
        if !(author.exists() && author.enabled) {
            return Err(CommandError::new("unauthorized"));
        }
        Ok(PostEvent::PostCreated { content, user_id }.into())
    }

    /// Takes a post down; only its author may.
    async fn archive_post(&self, post: &Agg<Post>, acting: &Metadata) -> CommandResult<PostEvent> {
        if !post.exists() {
            return Err(CommandError::new("no such post"));
        }
        if acting.user.as_deref() != Some(post.user_id.as_str()) {
            return Err(CommandError::new("only the author may archive a post"));
        }
        Ok((!post.archived).then_some(PostEvent::PostArchived).into())
    }
}

#[cfg(test)]
mod tests {
    use evtstore::testing::CommandTest;
    use evtstore::{Domain, MemoryStore, Metadata};

    use super::{PostCommand, PostCommands, PostEvent, UserCommand, UserCommands, UserEvent};

    fn acting(user: &str) -> Metadata {
        Metadata {
            user: Some(user.to_owned()),
            ..Metadata::default()
        }
    }

    fn post_commands(domain: &Domain<MemoryStore>) -> PostCommands<MemoryStore> {
        PostCommands {
            domain: domain.clone(),
        }
    }

    #[tokio::test]
    async fn the_acting_user_is_the_author() {
        CommandTest::with_domain(post_commands)
            .given(
                "alice",
                [UserEvent::Created {
                    name: "Alice".into(),
                }],
            )
            .acting_with(acting("alice"))
            .when(
                "p1",
                &PostCommand::CreatePost {
                    content: "Hi".into(),
                },
            )
            .await
            .then_events([PostEvent::PostCreated {
                content: "Hi".into(),
                user_id: "alice".into(),
            }]);
    }

    #[tokio::test]
    async fn nobody_signed_in_cannot_post() {
        CommandTest::with_domain(post_commands)
            .given(
                "alice",
                [UserEvent::Created {
                    name: "Alice".into(),
                }],
            )
            .when(
                "p1",
                &PostCommand::CreatePost {
                    content: "Hi".into(),
                },
            )
            .await
            .then_refused("only a signed-in user may post");
    }

    #[tokio::test]
    async fn a_disabled_user_cannot_post() {
        CommandTest::with_domain(post_commands)
            .given(
                "alice",
                [
                    UserEvent::Created {
                        name: "Alice".into(),
                    },
                    UserEvent::Disabled,
                ],
            )
            .acting_with(acting("alice"))
            .when(
                "p1",
                &PostCommand::CreatePost {
                    content: "Hi".into(),
                },
            )
            .await
            .then_refused("unauthorized");
    }

    #[tokio::test]
    async fn only_the_author_archives() {
        let post = PostEvent::PostCreated {
            content: "Hi".into(),
            user_id: "alice".into(),
        };
        CommandTest::with_domain(post_commands)
            .given("p1", [post.clone()])
            .acting_with(acting("bob"))
            .when("p1", &PostCommand::ArchivePost)
            .await
            .then_refused("only the author may archive a post");
        CommandTest::with_domain(post_commands)
            .given("p1", [post])
            .acting_with(acting("alice"))
            .when("p1", &PostCommand::ArchivePost)
            .await
            .then_events([PostEvent::PostArchived]);
    }

    #[tokio::test]
    async fn only_the_user_disables_their_account() {
        CommandTest::new(UserCommands)
            .given(
                "alice",
                [UserEvent::Created {
                    name: "Alice".into(),
                }],
            )
            .acting_with(acting("bob"))
            .when("alice", &UserCommand::Disable)
            .await
            .then_refused("only the user may change their account");
    }
}
