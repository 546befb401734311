-- Whether migrate() has nothing to do, read from the catalogs: `to_regclass` and `pg_attribute`
-- take no lock on the tables, so this never waits behind (or holds up) a transaction that
-- uses them. Names resolve through the search path, as the store's queries do.
SELECT to_regclass('"{events}"') IS NOT NULL
   AND to_regclass('"{bookmarks}"') IS NOT NULL
   AND to_regclass('"{snapshots}"') IS NOT NULL
   AND to_regclass('"{events}_stream_aggregate_id_version_unique"') IS NOT NULL
   AND to_regclass('"{events}_txid_position"') IS NOT NULL
   AND (SELECT COUNT(*) FROM pg_attribute
        WHERE attrelid = to_regclass('"{events}"') AND NOT attisdropped
          AND attname IN ('metadata', 'txid')) = 2
   AND (SELECT COUNT(*) FROM pg_attribute
        WHERE attrelid = to_regclass('"{bookmarks}"') AND NOT attisdropped
          AND attname IN ('txid', 'lease_until', 'txid_position')) = 3
   AND EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgname = '{events}_wake' AND tgrelid = to_regclass('"{events}"'))
   AND obj_description(to_regprocedure('"{bookmarks}_resume"(bigint, bigint, bigint)'), 'pg_proc')
       IS NOT DISTINCT FROM 'evtstore resume 2'
   AND COALESCE((SELECT atttypid = 'integer'::regtype FROM pg_attribute
        WHERE attrelid = to_regclass('"{events}"') AND attname = 'version' AND NOT attisdropped),
        false)
   AND EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgname = '{bookmarks}_released' AND tgrelid = to_regclass('"{bookmarks}"'))
