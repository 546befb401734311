-- The read models' tables on PostgreSQL (run in a transaction holding an advisory lock).
-- Posts stay when archived (marked), so that an archive is an UPDATE of one row; lists
-- page newest first by the position of the event that created the post.

CREATE TABLE IF NOT EXISTS service_posts (
    id VARCHAR(255) PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL,
    content TEXT NOT NULL,
    archived BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    position BIGINT NOT NULL);

CREATE INDEX IF NOT EXISTS service_posts_by_position ON service_posts (archived, position);

CREATE INDEX IF NOT EXISTS service_posts_by_user ON service_posts (user_id, archived, position);

CREATE TABLE IF NOT EXISTS service_users (
    id VARCHAR(255) PRIMARY KEY,
    name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    posts BIGINT NOT NULL);
