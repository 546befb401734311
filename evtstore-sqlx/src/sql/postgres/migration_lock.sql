-- Taken at the start of the migration's transaction: one process changes the schema at a time
-- (concurrent CREATE TABLE IF NOT EXISTS can otherwise fail on the catalog's unique keys).
SELECT pg_advisory_xact_lock(hashtext('evtstore migrate ' || current_schema() || '.{events}'))
