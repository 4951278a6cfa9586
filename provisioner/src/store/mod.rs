//! Persistence: files (content-addressed blobs, revisions, history), sync
//! tokens and previews, behind traits that SQLite and PostgreSQL both fill.
