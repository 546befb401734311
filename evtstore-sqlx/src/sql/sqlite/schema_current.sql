-- Whether migrate() has nothing to do, read from the schema without a write lock, so that it
-- never waits for (or holds up) appends.
SELECT (SELECT COUNT(*) FROM sqlite_master
        WHERE type = 'table' AND name IN ('{events}', '{bookmarks}', '{snapshots}')) = 3
   AND EXISTS (SELECT 1 FROM sqlite_master
        WHERE type = 'index' AND name = '{events}_stream_aggregate_id_version_unique')
   AND EXISTS (SELECT 1 FROM pragma_table_info('{events}') WHERE name = 'metadata')
   AND EXISTS (SELECT 1 FROM pragma_table_info('{bookmarks}') WHERE name = 'lease_until')
