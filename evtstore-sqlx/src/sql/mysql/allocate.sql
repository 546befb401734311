-- Takes the next ? positions and locks the sequence row until the appending transaction ends:
-- appends run one at a time, so positions commit in order. The new last position is returned
-- as the statement's last insert id.
UPDATE `{events}_sequence` SET `position` = LAST_INSERT_ID(`position` + ?) WHERE `id` = 1
