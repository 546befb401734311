//! The users/posts domain of the evtstore README as an HTTP service: commands in over axum,
//! events in the store, SQL read models kept by transactional projections, queries out.
//!
//! ```sh
//! cargo run -p service                                      # SQLite, ./service.db, port 3000
//! DATABASE_URL=postgres://postgres@127.0.0.1/test PORT=3001 cargo run -p service
//! curl -X POST localhost:3000/users/alice -d '{"type":"create","name":"Alice"}'
//! curl -X POST 'localhost:3000/posts/p1?wait_for=posts' -H 'X-User: alice' \
//!      -d '{"type":"createPost","content":"Hello"}'
//! curl localhost:3000/posts
//! curl localhost:3000/health
//! ```
//!
//! Any number of processes may serve one PostgreSQL or MariaDB database (SQLite: one host):
//! commands stay correct through the store's optimistic concurrency, each projection runs in
//! one process at a time (its claim), and a killed process's projections move to another once
//! its lease (`HANDLER_LEASE_MS`) runs out. Ctrl-C or SIGTERM stops taking requests, finishes
//! those in flight, then stops the projections after their batch and hands their claims over.
//!
//! [`http`] lists the routes, headers and error statuses; [`config::Config`] the settings.

pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod read_model;
pub mod sql;
