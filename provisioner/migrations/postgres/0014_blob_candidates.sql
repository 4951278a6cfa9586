-- The blob sweep looks only at blobs a write gave up, not at every blob:
-- each write names here the content it replaced or deleted (another path or
-- app may still hold it; the sweep checks), so a sweep's work follows the
-- garbage made, and it finishes under heavy churn of a large app. Rows are
-- taken in `id` order; a sweep takes those present when it began.
CREATE TABLE blob_candidates (
    id     BIGSERIAL PRIMARY KEY,
    sha256 TEXT NOT NULL
);
-- Garbage stored before this migration is named once.
INSERT INTO blob_candidates (sha256)
SELECT b.sha256 FROM blobs b
WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = b.sha256);
