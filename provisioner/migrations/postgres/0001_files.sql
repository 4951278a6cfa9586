-- Files: content-addressed blobs, each app's current files, deletions kept
-- for `?since=` deltas, and the sync tokens and reports of the apps' daemons.
-- The same shape as the SQLite schema, so both backends answer alike.

-- One row per distinct content, shared by every app and path that holds it.
CREATE TABLE blobs (
    sha256  TEXT   PRIMARY KEY,
    size    BIGINT NOT NULL,
    content BYTEA  NOT NULL
);

-- One row per app that was ever written to. Writers lock this row
-- (`SELECT ... FOR UPDATE`), so writes to one app serialize across every
-- instance sharing the database. `history_floor` is the oldest `since` a
-- delta can still answer: deletions at or before it were pruned.
CREATE TABLE apps (
    app_id        TEXT   PRIMARY KEY,
    revision      BIGINT NOT NULL DEFAULT 0,
    file_count    BIGINT NOT NULL DEFAULT 0,
    total_bytes   BIGINT NOT NULL DEFAULT 0,
    history_floor BIGINT NOT NULL DEFAULT 0
);

-- The current files. `revision` is the revision that last changed the row,
-- so a delta is every row with a revision above `since`.
CREATE TABLE files (
    app_id   TEXT   NOT NULL REFERENCES apps (app_id),
    path     TEXT   NOT NULL,
    sha256   TEXT   NOT NULL REFERENCES blobs (sha256),
    size     BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (app_id, path)
);
CREATE INDEX files_by_revision ON files (app_id, revision);
-- Answers "does this app's manifest reference this blob?" for blob reads.
CREATE INDEX files_by_blob ON files (app_id, sha256);

-- Paths deleted recently, pruned after the history retention.
CREATE TABLE file_tombstones (
    app_id   TEXT   NOT NULL REFERENCES apps (app_id),
    path     TEXT   NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (app_id, path)
);
CREATE INDEX file_tombstones_by_revision ON file_tombstones (app_id, revision);

-- Only the sha256 of each token is kept; several may be valid at once.
CREATE TABLE sync_tokens (
    app_id        TEXT   NOT NULL,
    digest        TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (app_id, digest)
);

-- The last report of each app's sync daemon.
CREATE TABLE sync_status (
    app_id         TEXT   PRIMARY KEY,
    revision       BIGINT NOT NULL,
    dev_server     TEXT   NOT NULL,
    message        TEXT,
    reported_at_ms BIGINT NOT NULL
);
