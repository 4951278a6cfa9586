//! `FileStore` on PostgreSQL: manifests, deltas, blob reads and the blob
//! clean-up. Writes are in `postgres_write`.

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::{Postgres, Row, Transaction};
use sync_protocol::{AppId, FileEntry, FilePath};

use super::sqlite::{to_i64, to_u64};
use super::{
    AppLimits, AppUsage, Blob, Changes, FileChange, FileStore, Manifest, PostgresStore, StoreError,
    WriteOutcome,
};

/// The counters kept per app.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct AppRow {
    pub(super) revision: u64,
    pub(super) usage: AppUsage,
    pub(super) history_floor: u64,
}

#[async_trait]
impl FileStore for PostgresStore {
    async fn apply(
        &self,
        app_id: &AppId,
        changes: &[FileChange],
        limits: AppLimits,
    ) -> Result<WriteOutcome, StoreError> {
        super::postgres_write::apply(self, app_id, changes, limits).await
    }

    async fn revision(&self, app_id: &AppId) -> Result<u64, StoreError> {
        let revision: Option<i64> =
            sqlx::query_scalar("SELECT revision FROM apps WHERE app_id = $1")
                .bind(app_id.as_str())
                .fetch_optional(self.pool())
                .await?;
        Ok(revision.map_or(0, to_u64))
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    async fn manifest(&self, app_id: &AppId) -> Result<Manifest, StoreError> {
        // Repeatable read: the revision and the rows are one snapshot even
        // while another instance commits in between the two queries.
        let mut transaction = self.snapshot().await?;
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
        let mut transaction = self.snapshot().await?;
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
        let deleted: Vec<String> = sqlx::query_scalar(
            "SELECT path FROM file_tombstones WHERE app_id = $1 AND revision > $2 \
             ORDER BY path COLLATE \"C\"",
        )
        .bind(app_id.as_str())
        .bind(to_i64(since))
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;
        let deleted = deleted
            .into_iter()
            .map(stored_path)
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
             WHERE f.app_id = $1 AND f.path = $2",
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
        let rows = sqlx::query(
            "SELECT DISTINCT sha256, size FROM files WHERE app_id = $1 AND sha256 = ANY($2)",
        )
        .bind(app_id.as_str())
        .bind(sha256s)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get("sha256"), to_u64(row.get("size"))))
            .collect())
    }

    async fn read_blob(&self, app_id: &AppId, sha256: &str) -> Result<Option<Bytes>, StoreError> {
        let content: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT b.content FROM blobs b WHERE b.sha256 = $1 AND EXISTS \
             (SELECT 1 FROM files f WHERE f.app_id = $2 AND f.sha256 = b.sha256)",
        )
        .bind(sha256)
        .bind(app_id.as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(content.map(Bytes::from))
    }

    async fn remove_unreferenced_blobs(&self) -> Result<u64, StoreError> {
        // Blobs a concurrent write has locked (it is about to reference them)
        // are skipped until the next sweep; one this sweep locked first is
        // gone before that write looks, so the write stores it again.
        let removed = sqlx::query(
            "DELETE FROM blobs WHERE sha256 IN (SELECT b.sha256 FROM blobs b \
             WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = b.sha256) \
             FOR UPDATE SKIP LOCKED)",
        )
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(removed)
    }
}

impl PostgresStore {
    /// A read-only transaction that sees one snapshot throughout.
    async fn snapshot(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool()
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
    }
}

async fn app_row(
    transaction: &mut Transaction<'static, Postgres>,
    app_id: &AppId,
) -> Result<AppRow, StoreError> {
    read_app_row(transaction, app_id, "").await
}

pub(super) async fn read_app_row(
    transaction: &mut Transaction<'static, Postgres>,
    app_id: &AppId,
    lock: &str,
) -> Result<AppRow, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT revision, file_count, total_bytes, history_floor FROM apps WHERE app_id = $1{lock}"
    ))
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

/// The app's files changed after revision `since` (all of them for 0), by
/// path in byte order (`COLLATE "C"`), as SQLite orders them.
async fn file_entries(
    transaction: &mut Transaction<'static, Postgres>,
    app_id: &AppId,
    since: u64,
) -> Result<Vec<FileEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT path, sha256, size FROM files WHERE app_id = $1 AND revision > $2 \
         ORDER BY path COLLATE \"C\"",
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
