-- Run by `migrate` only when the events table (written by the TypeScript evtstore) lacks it.
ALTER TABLE `{events}` ADD COLUMN `metadata` TEXT NULL
