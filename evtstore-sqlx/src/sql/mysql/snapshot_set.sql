-- Replaces the stored snapshot unless it has a higher version under the same tag. MySQL applies
-- the assignments left to right: `state` and `version` test the stored tag and version before
-- either changes; `tag` is then the new one in both cases.
INSERT INTO `{snapshots}` (`stream`, `aggregate_id`, `version`, `tag`, `state`)
VALUES (?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE
    `state` = IF(`tag` = VALUES(`tag`) AND `version` > VALUES(`version`), `state`, VALUES(`state`)),
    `version` = IF(`tag` = VALUES(`tag`) AND `version` > VALUES(`version`), `version`, VALUES(`version`)),
    `tag` = VALUES(`tag`)
