SELECT COUNT(*) FROM pragma_table_info('{bookmarks}') WHERE name = 'lease_until'
