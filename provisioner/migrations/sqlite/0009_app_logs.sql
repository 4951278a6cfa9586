-- The preview's log: the newest lines each app's daemon shipped, kept in
-- the store so every instance serves the same log. A line's cursor is its
-- `seq`, counted per app by `app_log_heads.last_seq`; lines at or below
-- `trimmed_to` were removed to keep the tail bounded.
CREATE TABLE app_log_heads (
    app_id TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    trimmed_to BIGINT NOT NULL
);

CREATE TABLE app_logs (
    app_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (app_id, seq)
);

-- The newest control an operator asked of an app's preview (restart or
-- rebuild), numbered per app so its daemon acts on each once.
CREATE TABLE preview_controls (
    app_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    requested_at_ms BIGINT NOT NULL
);
