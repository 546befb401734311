SELECT COUNT(*) FROM pragma_table_info('{events}') WHERE name = 'metadata'
