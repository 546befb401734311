INSERT INTO "{bookmarks}" ("bookmark", "position") VALUES (?1, ?2)
ON CONFLICT ("bookmark") DO UPDATE SET "position" = excluded."position"
