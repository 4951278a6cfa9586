-- What the preview shows for the revision its daemon applied: the render
-- verdict (state, error, the page's last events) as the JSON of
-- sync_protocol::render::RenderReport.
ALTER TABLE sync_status ADD COLUMN render TEXT;
