-- What a preview's daemon detected and chose to run the app (framework,
-- package manager, commands, ports), as the JSON of sync_protocol::RuntimeReport.
ALTER TABLE sync_status ADD COLUMN runtime TEXT;
