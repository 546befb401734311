//! The query side: SQL tables kept by transactional projections, and the queries the HTTP
//! routes answer from them.
//!
//! Each projection's writes commit in the same transaction as its bookmark
//! ([`HandlerBuilder::project`](evtstore::HandlerBuilder::project)), so every event is applied
//! exactly once, whichever process runs the projection and whichever crashes. The statements
//! are therefore plain `INSERT`s and increments: applying a page twice would fail on the
//! primary key or double a count, which the tests would see.

mod posts;
mod queries;
mod schema;
mod user_stats;

pub use posts::PostsProjection;
pub use queries::{PostView, UserView, list_posts, user};
pub use schema::create_tables;
pub use user_stats::UserStatsProjection;
