-- The events of an aggregate without snapshots after version ?3, in version order, the text
-- alone: for `Store::replay_without_positions`. One value a row, as the plain read of the
-- events has: sqlx copies every value of a row into an allocation of its own (`BENCHMARKS.md`).
--
-- The store must still know that the versions are whole (?4, the start + 1, to the last)
-- without reading them. So the row at version ?4 carries, before its text, ?5 (a number the
-- caller draws at random for this read) and the aggregate's last version, each followed by a
-- space. With unique versions, the rows are whole exactly when the first one carries them and
-- there are as many rows as the last version less the start; anything else is read again as
-- `replay` reads it, which refuses what made it unfit. A stored text cannot pass for the prefix:
-- it would have to begin with the random number. Without this, the versions cost a second
-- statement (SQLite's thread woken twice), about a tenth of a load's time.
--
-- Only a text is prefixed: a blob would be turned into text by `||`, where `replay` refuses it.
-- From the start ?3 is the lowest integer, so that a row with a version below 1 comes first,
-- carries no prefix, and is refused by `replay`. The last version comes from the same
-- statement, so from the same snapshot as the rows.
SELECT CASE WHEN "version" = ?4 AND typeof("event") = 'text'
            THEN ?5 || ' ' || (SELECT max("version") FROM "{events}"
                               WHERE "stream" = ?1 AND "aggregate_id" = ?2) || ' ' || "event"
            ELSE "event" END
FROM "{events}"
WHERE "stream" = ?1 AND "aggregate_id" = ?2 AND "version" > ?3
ORDER BY "version"
