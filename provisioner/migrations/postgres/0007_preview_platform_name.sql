-- The name the platform knows each preview by (a Fly app name), chosen once
-- when the preview is first made and kept for its life: a changed naming
-- setting (--fly-app-prefix) must neither orphan nor mis-address it. Absent
-- for previews made before this column and on platforms without names.
ALTER TABLE previews ADD COLUMN platform_name TEXT;
