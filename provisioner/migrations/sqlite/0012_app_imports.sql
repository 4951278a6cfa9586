-- Each app's last import from git (POST /v1/apps/{appId}/import): the
-- repository, ref, commit, what was detected and each step with its status,
-- timing and log line, as the JSON of provisioner::import::ImportReport,
-- saved as each step starts and ends. Never holds a token.
CREATE TABLE app_imports (
    app_id        TEXT PRIMARY KEY NOT NULL,
    report        TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
