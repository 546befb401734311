//! The query side: SQL tables kept by transactional projections, and the queries the HTTP
//! routes answer from them.
//!
//! Each projection's writes commit in the same transaction as its bookmark
//! ([`HandlerBuilder::project`](evtstore::HandlerBuilder::project)), so every event is applied
//! exactly once, whichever process runs the projection and whichever crashes. The statements
//! are therefore plain `INSERT`s and increments, not upserts: a post applied twice would fail
//! on the primary key and a count applied twice would be off, which the test that kills a
//! process checks (an archive or an enable applied twice would change nothing visible).

mod posts;
mod progress;
mod queries;
mod schema;
mod user_stats;

pub use posts::PostsProjection;
pub use progress::ReadModel;
pub use queries::{PostView, UserView, list_posts, user};
pub use schema::create_tables;
pub use user_stats::UserStatsProjection;
