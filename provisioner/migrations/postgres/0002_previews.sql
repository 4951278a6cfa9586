-- Previews: one row per app that was ever provisioned. The provisioning
-- steps and the driver's data are JSON text: they are read and written whole
-- with the row, never queried inside. Times are unix milliseconds.
CREATE TABLE previews (
    app_id              TEXT   PRIMARY KEY,
    state               TEXT   NOT NULL,
    driver_data         TEXT   NOT NULL DEFAULT '{}',
    steps               TEXT   NOT NULL DEFAULT '[]',
    last_activity_at_ms BIGINT NOT NULL,
    error               TEXT,
    state_changed_at_ms BIGINT NOT NULL,
    created_at_ms       BIGINT NOT NULL,
    updated_at_ms       BIGINT NOT NULL
);
-- The idle reaper lists running previews on every pass.
CREATE INDEX previews_by_state ON previews (state);
