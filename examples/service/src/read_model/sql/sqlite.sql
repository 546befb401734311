-- The read models' tables on SQLite.
-- Posts stay when archived (marked), so that an archive is an UPDATE of one row; lists
-- page newest first by the position of the event that created the post.

CREATE TABLE IF NOT EXISTS service_posts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    content TEXT NOT NULL,
    archived INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    position INTEGER NOT NULL);

CREATE INDEX IF NOT EXISTS service_posts_by_position ON service_posts (archived, position);

CREATE INDEX IF NOT EXISTS service_posts_by_user ON service_posts (user_id, archived, position);

CREATE TABLE IF NOT EXISTS service_users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    posts INTEGER NOT NULL);
