-- Run by `migrate` only when the bookmarks table (of the TypeScript evtstore, or of an earlier
-- release) lacks the claim columns. Writers that know nothing of claims keep working: the
-- columns have defaults.
ALTER TABLE `{bookmarks}`
    ADD COLUMN `owner` VARCHAR(255) NOT NULL DEFAULT '',
    ADD COLUMN `epoch` BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN `lease_until` BIGINT NOT NULL DEFAULT 0
