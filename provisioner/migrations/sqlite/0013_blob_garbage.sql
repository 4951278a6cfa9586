-- The blob sweep runs when enough content was made unreferenced, not every
-- so many writes. Each write adds what it replaced or deleted to its app's
-- row (already locked by the write, so no row is shared by all writes);
-- `blob_sweeps` holds the sum counted when the last sweep began and what
-- every sweep removed. Pending garbage is the apps' sum minus the counted
-- one; the counted sum starts below zero by the garbage already stored, so
-- a database from before this migration is swept at once.
ALTER TABLE apps ADD COLUMN garbage_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN garbage_blobs INTEGER NOT NULL DEFAULT 0;

CREATE TABLE blob_sweeps (
    singleton     INTEGER PRIMARY KEY CHECK (singleton = 1),
    counted_bytes INTEGER NOT NULL,
    counted_blobs INTEGER NOT NULL,
    swept_bytes   INTEGER NOT NULL DEFAULT 0,
    swept_blobs   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO blob_sweeps (singleton, counted_bytes, counted_blobs)
SELECT 1, -COALESCE(SUM(b.size), 0), -COUNT(*) FROM blobs b
WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = b.sha256);
