-- Paths in byte order (as SQLite compares them), so that a write finds
-- what is stored beneath a path it creates (`a` when `a/b` exists) with a
-- range scan instead of reading the app's every file.
CREATE INDEX files_by_path_bytes ON files (app_id, path COLLATE "C");
