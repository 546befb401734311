-- The position sequence of the first release, kept only for `legacy_sequence_positions` (the
-- test that shows the multi-process stress test catching its skipped events). Takes the next ?
-- positions and locks the sequence row until the appending transaction ends.
UPDATE `{events}_sequence` SET `position` = LAST_INSERT_ID(`position` + ?) WHERE `id` = 1
