-- Each app's settings (commands, port, environment, visibility), as one
-- JSON document. `version` makes a PATCH a compare-and-set, so two
-- concurrent PATCHes never lose each other's fields.
CREATE TABLE app_settings (
    app_id        TEXT   PRIMARY KEY,
    settings      TEXT   NOT NULL,
    version       BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
