//! sqlx-backed stores for evtstore (SQLite, PostgreSQL, MySQL). Work in progress.
