//! `FileStore` on SQLite: writes, manifests, deltas and blob reads.

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use sync_protocol::{AppId, FileEntry, FilePath};

use super::sqlite::{to_i64, to_u64};
use super::{
    AppLimits, AppUsage, Blob, Changes, FileChange, FileStore, Manifest, SqliteStore, StoreError,
    WriteOutcome,
};

/// The counters kept per app, read at the start of each operation.
#[derive(Clone, Copy, Debug, Default)]
struct AppRow {
    revision: u64,
    usage: AppUsage,
    history_floor: u64,
}

#[async_trait]
impl FileStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(app_id = %app_id, changes = changes.len()))]
    async fn apply(
        &self,
        app_id: &AppId,
        changes: &[FileChange],
        limits: AppLimits,
    ) -> Result<WriteOutcome, StoreError> {
        let mut transaction = self.begin_write().await?;
        let app = app_row(&mut transaction, app_id).await?;
        let mut usage = app.usage;
        let revision = app.revision + 1;
        sqlx::query("INSERT OR IGNORE INTO apps (app_id) VALUES (?)")
            .bind(app_id.as_str())
            .execute(&mut *transaction)
            .await?;

        let mut changed = 0;
        for (index, change) in changes.iter().enumerate() {
            let current = current_file(&mut transaction, app_id, &change.path).await?;
            match (&change.content, current) {
                (Some(blob), Some((sha256, _))) if blob.sha256 == sha256 => continue,
                (Some(blob), current) => {
                    put_file(&mut transaction, app_id, &change.path, blob, revision).await?;
                    usage.put(current.map(|(_, size)| size), blob.bytes.len() as u64);
                }
                (None, Some((_, size))) => {
                    delete_file(&mut transaction, app_id, &change.path, revision).await?;
                    usage.delete(size);
                }
                (None, None) => {
                    return Err(StoreError::FileNotFound {
                        index,
                        path: change.path.clone(),
                    });
                }
            }
            changed += 1;
        }

        if changed == 0 {
            // Dropping the transaction rolls it back: nothing to record.
            return Ok(WriteOutcome {
                revision: app.revision,
                changed: 0,
            });
        }
        limits.check(app.usage, usage)?;

        // Deletions older than the retention are forgotten; a `since` before
        // the new floor then gets the full manifest instead of a wrong delta.
        let history_floor = limits.history_floor(app.history_floor, revision);
        sqlx::query("DELETE FROM file_tombstones WHERE app_id = ? AND revision <= ?")
            .bind(app_id.as_str())
            .bind(to_i64(history_floor))
            .execute(&mut *transaction)
            .await?;
        sqlx::query(
            "UPDATE apps SET revision = ?, file_count = ?, total_bytes = ?, history_floor = ? \
             WHERE app_id = ?",
        )
        .bind(to_i64(revision))
        .bind(to_i64(usage.file_count))
        .bind(to_i64(usage.total_bytes))
        .bind(to_i64(history_floor))
        .bind(app_id.as_str())
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(WriteOutcome { revision, changed })
    }

    async fn revision(&self, app_id: &AppId) -> Result<u64, StoreError> {
        let mut connection = self.pool().acquire().await?;
        let revision: Option<i64> =
            sqlx::query_scalar("SELECT revision FROM apps WHERE app_id = ?")
                .bind(app_id.as_str())
                .fetch_optional(&mut *connection)
                .await?;
        Ok(revision.map_or(0, to_u64))
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    async fn manifest(&self, app_id: &AppId) -> Result<Manifest, StoreError> {
        // One read transaction, so the revision and the rows are one snapshot.
        let mut transaction = self.pool().begin().await?;
        let app = app_row(&mut transaction, app_id).await?;
        let files = file_entries(&mut transaction, app_id, 0).await?;
        transaction.commit().await?;
        Ok(Manifest {
            revision: app.revision,
            files,
        })
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id, since))]
    async fn changes_since(&self, app_id: &AppId, since: u64) -> Result<Changes, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let app = app_row(&mut transaction, app_id).await?;
        if since < app.history_floor || since > app.revision {
            let files = file_entries(&mut transaction, app_id, 0).await?;
            transaction.commit().await?;
            return Ok(Changes::Full(Manifest {
                revision: app.revision,
                files,
            }));
        }
        let files = file_entries(&mut transaction, app_id, since).await?;
        let deleted_rows = sqlx::query(
            "SELECT path FROM file_tombstones WHERE app_id = ? AND revision > ? ORDER BY path",
        )
        .bind(app_id.as_str())
        .bind(to_i64(since))
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;
        let deleted = deleted_rows
            .iter()
            .map(|row| stored_path(row.get("path")))
            .collect::<Result<_, _>>()?;
        Ok(Changes::Delta {
            revision: app.revision,
            files,
            deleted,
        })
    }

    async fn read_file(&self, app_id: &AppId, path: &FilePath) -> Result<Option<Blob>, StoreError> {
        let row = sqlx::query(
            "SELECT f.sha256, b.content FROM files f JOIN blobs b ON b.sha256 = f.sha256 \
             WHERE f.app_id = ? AND f.path = ?",
        )
        .bind(app_id.as_str())
        .bind(path.as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|row| Blob {
            sha256: row.get("sha256"),
            bytes: Bytes::from(row.get::<Vec<u8>, _>("content")),
        }))
    }

    async fn referenced_blobs(
        &self,
        app_id: &AppId,
        sha256s: &[String],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        if sha256s.is_empty() {
            return Ok(Vec::new());
        }
        let mut query =
            QueryBuilder::<Sqlite>::new("SELECT DISTINCT sha256, size FROM files WHERE app_id = ");
        query.push_bind(app_id.as_str()).push(" AND sha256 IN (");
        let mut separated = query.separated(", ");
        for sha256 in sha256s {
            separated.push_bind(sha256.as_str());
        }
        query.push(")");
        let rows = query.build().fetch_all(self.pool()).await?;
        Ok(rows
            .iter()
            .map(|row| (row.get("sha256"), to_u64(row.get("size"))))
            .collect())
    }

    async fn read_blob(&self, app_id: &AppId, sha256: &str) -> Result<Option<Bytes>, StoreError> {
        let content: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT b.content FROM blobs b WHERE b.sha256 = ? AND EXISTS \
             (SELECT 1 FROM files f WHERE f.app_id = ? AND f.sha256 = b.sha256)",
        )
        .bind(sha256)
        .bind(app_id.as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(content.map(Bytes::from))
    }

    async fn remove_unreferenced_blobs(&self) -> Result<u64, StoreError> {
        // Under the write lock, so no write can be between storing a blob and
        // the file row that references it.
        let mut transaction = self.begin_write().await?;
        let removed =
            sqlx::query("DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM files)")
                .execute(&mut *transaction)
                .await?
                .rows_affected();
        transaction.commit().await?;
        Ok(removed)
    }
}

async fn app_row(
    transaction: &mut Transaction<'static, Sqlite>,
    app_id: &AppId,
) -> Result<AppRow, StoreError> {
    let row = sqlx::query(
        "SELECT revision, file_count, total_bytes, history_floor FROM apps WHERE app_id = ?",
    )
    .bind(app_id.as_str())
    .fetch_optional(&mut **transaction)
    .await?;
    Ok(row.map_or_else(AppRow::default, |row| AppRow {
        revision: to_u64(row.get("revision")),
        usage: AppUsage {
            file_count: to_u64(row.get("file_count")),
            total_bytes: to_u64(row.get("total_bytes")),
        },
        history_floor: to_u64(row.get("history_floor")),
    }))
}

/// The sha256 and size at `path`, if the app holds it.
async fn current_file(
    transaction: &mut Transaction<'static, Sqlite>,
    app_id: &AppId,
    path: &FilePath,
) -> Result<Option<(String, u64)>, StoreError> {
    let row = sqlx::query("SELECT sha256, size FROM files WHERE app_id = ? AND path = ?")
        .bind(app_id.as_str())
        .bind(path.as_str())
        .fetch_optional(&mut **transaction)
        .await?;
    Ok(row.map(|row| (row.get("sha256"), to_u64(row.get("size")))))
}

async fn put_file(
    transaction: &mut Transaction<'static, Sqlite>,
    app_id: &AppId,
    path: &FilePath,
    blob: &Blob,
    revision: u64,
) -> Result<(), StoreError> {
    // The same content is stored once, whichever app or path holds it.
    sqlx::query("INSERT OR IGNORE INTO blobs (sha256, size, content) VALUES (?, ?, ?)")
        .bind(&blob.sha256)
        .bind(to_i64(blob.bytes.len() as u64))
        .bind(blob.bytes.as_ref())
        .execute(&mut **transaction)
        .await?;
    sqlx::query(
        "INSERT INTO files (app_id, path, sha256, size, revision) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (app_id, path) DO UPDATE SET \
         sha256 = excluded.sha256, size = excluded.size, revision = excluded.revision",
    )
    .bind(app_id.as_str())
    .bind(path.as_str())
    .bind(&blob.sha256)
    .bind(to_i64(blob.bytes.len() as u64))
    .bind(to_i64(revision))
    .execute(&mut **transaction)
    .await?;
    sqlx::query("DELETE FROM file_tombstones WHERE app_id = ? AND path = ?")
        .bind(app_id.as_str())
        .bind(path.as_str())
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

async fn delete_file(
    transaction: &mut Transaction<'static, Sqlite>,
    app_id: &AppId,
    path: &FilePath,
    revision: u64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM files WHERE app_id = ? AND path = ?")
        .bind(app_id.as_str())
        .bind(path.as_str())
        .execute(&mut **transaction)
        .await?;
    sqlx::query(
        "INSERT INTO file_tombstones (app_id, path, revision) VALUES (?, ?, ?) \
         ON CONFLICT (app_id, path) DO UPDATE SET revision = excluded.revision",
    )
    .bind(app_id.as_str())
    .bind(path.as_str())
    .bind(to_i64(revision))
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// The app's files changed after revision `since` (all of them for 0), by path.
async fn file_entries(
    transaction: &mut Transaction<'static, Sqlite>,
    app_id: &AppId,
    since: u64,
) -> Result<Vec<FileEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT path, sha256, size FROM files WHERE app_id = ? AND revision > ? ORDER BY path",
    )
    .bind(app_id.as_str())
    .bind(to_i64(since))
    .fetch_all(&mut **transaction)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(FileEntry {
                path: stored_path(row.get("path"))?,
                sha256: row.get("sha256"),
                size: to_u64(row.get("size")),
            })
        })
        .collect()
}

/// Paths were validated before they were stored; one that no longer parses
/// (the rules tightened since) is a server-side problem, not the caller's.
fn stored_path(text: String) -> Result<FilePath, StoreError> {
    FilePath::parse(&text)
        .map_err(|error| StoreError::Backend(anyhow::anyhow!("stored path {text:?}: {error}")))
}
