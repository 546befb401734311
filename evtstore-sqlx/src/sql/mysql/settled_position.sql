-- The settled position: the last position of the whole table, read by a locking read, which
-- reads the newest version of the last row and, while its transaction is still running, waits
-- until it commits or rolls back (a row rolled back is passed over for the one before it).
--
-- Every position at or below it is settled: committed, and visible to any read view opened
-- after this statement returns. Appends are autocommit `INSERT .. SELECT` statements
-- (append.sql), which hold InnoDB's table-level AUTO-INC lock until their transaction commits
-- in memory, and a commit takes the transaction off the list of running ones before it lets
-- go of its locks. So an append takes positions only after every append of lower positions
-- has left that list, and once the last row's append has committed, so has every earlier one.
SELECT CAST(`position` AS SIGNED) FROM `{events}`
ORDER BY `position` DESC
LIMIT 1
LOCK IN SHARE MODE
