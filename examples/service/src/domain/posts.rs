//! Posts: written by enabled users, archived by their authors.

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

use super::users::UserEvent;

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
        // The author is read as of now: a `disable` appended between this load and the post's
        // append does not stop the post. Each aggregate is its own consistency boundary; a rule
        // that must hold across two needs them in one aggregate.
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

    use super::{PostCommand, PostCommands, PostEvent};
    use crate::domain::{UserCommand, UserCommands, UserEvent};

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
