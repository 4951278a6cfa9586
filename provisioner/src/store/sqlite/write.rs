//! What the SQLite backend does its own way: a planned write stored row by
//! row (statements are in-process calls, not round trips), the blob sweep
//! under the write lock, and activity flushed in one transaction.

use sqlx::{Sqlite, Transaction};
use sync_protocol::AppId;
use time::OffsetDateTime;

use super::SqliteStore;
use crate::store::shared::{removed, to_i64, to_ms};
use crate::store::write_plan::WritePlan;
use crate::store::{Garbage, StoreError, sweep};

impl SqliteStore {
    pub(super) async fn store_plan(
        &self,
        transaction: &mut Transaction<'static, Sqlite>,
        app_id: &AppId,
        plan: &WritePlan<'_>,
    ) -> Result<(), StoreError> {
        let revision = to_i64(plan.revision);
        for (path, blob) in &plan.written {
            // The same content is stored once, whichever app or path holds it.
            sqlx::query("INSERT OR IGNORE INTO blobs (sha256, size, content) VALUES ($1, $2, $3)")
                .bind(&blob.sha256)
                .bind(to_i64(blob.size()))
                .bind(blob.bytes.as_ref())
                .execute(&mut **transaction)
                .await?;
            sqlx::query(
                "INSERT INTO files (app_id, path, sha256, size, revision) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (app_id, path) DO UPDATE SET \
                 sha256 = excluded.sha256, size = excluded.size, revision = excluded.revision",
            )
            .bind(app_id.as_str())
            .bind(path.as_str())
            .bind(&blob.sha256)
            .bind(to_i64(blob.size()))
            .bind(revision)
            .execute(&mut **transaction)
            .await?;
            sqlx::query("DELETE FROM file_tombstones WHERE app_id = $1 AND path = $2")
                .bind(app_id.as_str())
                .bind(path.as_str())
                .execute(&mut **transaction)
                .await?;
        }
        for path in &plan.deleted {
            sqlx::query("DELETE FROM files WHERE app_id = $1 AND path = $2")
                .bind(app_id.as_str())
                .bind(path.as_str())
                .execute(&mut **transaction)
                .await?;
            sqlx::query(
                "INSERT INTO file_tombstones (app_id, path, revision) VALUES ($1, $2, $3) \
                 ON CONFLICT (app_id, path) DO UPDATE SET revision = excluded.revision",
            )
            .bind(app_id.as_str())
            .bind(path.as_str())
            .bind(revision)
            .execute(&mut **transaction)
            .await?;
        }
        Ok(())
    }

    /// One process owns the file and publishes its own writes: nothing to send.
    pub(super) async fn announce_write(
        _transaction: &mut Transaction<'static, Sqlite>,
        _app_id: &AppId,
        _revision: u64,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Removes the unreferenced blobs among those with `first < sha256 <= last`.
    pub(super) async fn sweep_blob_range(
        &self,
        first: &str,
        last: &str,
    ) -> Result<Garbage, StoreError> {
        // Under the write lock, so no write can be between storing a blob and
        // the file row that references it; one page, so the lock is short.
        let mut transaction = self.begin_write().await?;
        let sizes: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM blobs WHERE sha256 > $1 AND sha256 <= $2 \
             AND NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = blobs.sha256) \
             RETURNING size",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(removed(&sizes))
    }

    /// Gives the pages the sweep freed back to the file system, a few at a
    /// time (`auto_vacuum = INCREMENTAL`, set when the store is opened):
    /// each step is a write of its own, as short as a sweep page.
    pub(super) async fn reclaim_free_space(&self) -> Result<(), StoreError> {
        let mut given_back = 0i64;
        let mut before = i64::MAX;
        for _ in 0..sweep::VACUUM_MAX_STEPS {
            let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                .fetch_one(self.pool())
                .await?;
            // Nothing left, or a database that does not vacuum incrementally.
            if free == 0 || free >= before {
                break;
            }
            before = free;
            let step = free.min(sweep::VACUUM_STEP_PAGES);
            sqlx::query(&format!("PRAGMA incremental_vacuum({step})"))
                .execute(self.pool())
                .await?;
            given_back += step;
            tokio::task::yield_now().await;
        }
        if given_back > 0 {
            tracing::info!(pages = given_back, "free database pages given back");
        }
        Ok(())
    }

    /// One transaction for the whole flush: one fsync however many apps were active.
    pub(super) async fn record_activity_rows(
        &self,
        activity: &[(AppId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        let mut transaction = self.begin_write().await?;
        for (app_id, at) in activity {
            sqlx::query(
                "UPDATE previews SET last_activity_at_ms = max(last_activity_at_ms, $1) \
                 WHERE app_id = $2",
            )
            .bind(to_ms(*at))
            .bind(app_id.as_str())
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}
