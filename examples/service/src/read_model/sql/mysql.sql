-- The read models' tables on MySQL/MariaDB. Ids compare byte for byte, as the events table's do.
-- Posts stay when archived (marked), so that an archive is an UPDATE of one row; lists
-- page newest first by the position of the event that created the post.

CREATE TABLE IF NOT EXISTS service_posts (
    id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
    user_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    content TEXT CHARACTER SET utf8mb4 NOT NULL,
    archived BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    position BIGINT NOT NULL,
    INDEX service_posts_by_position (archived, position),
    INDEX service_posts_by_user (user_id, archived, position)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS service_users (
    id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
    name TEXT CHARACTER SET utf8mb4 NOT NULL,
    enabled BOOLEAN NOT NULL,
    posts BIGINT NOT NULL
) ENGINE = InnoDB;
