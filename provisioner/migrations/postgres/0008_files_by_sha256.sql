-- Answers "does any file still reference this blob?" with one index probe,
-- so the blob sweep checks a page of blobs in milliseconds instead of
-- scanning every file row per blob (which held SQLite's write lock for
-- seconds with one app of 20,000 files).
CREATE INDEX files_by_sha256 ON files (sha256);
