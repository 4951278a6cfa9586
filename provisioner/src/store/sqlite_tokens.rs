//! `SyncTokenStore` on SQLite: token digests and the daemons' reports.

use anyhow::Context;
use async_trait::async_trait;
use sqlx::Row;
use sync_protocol::{AppId, DevServerState, SyncStatusReport};
use time::OffsetDateTime;

use super::sqlite::{to_i64, to_u64};
use super::{SqliteStore, StoreError, SyncStatus, SyncTokenStore, decode_runtime, encode_runtime};

#[async_trait]
impl SyncTokenStore for SqliteStore {
    async fn add_sync_token(&self, app_id: &AppId, digest: &str) -> Result<(), StoreError> {
        let mut transaction = self.begin_write().await?;
        sqlx::query(
            "INSERT OR IGNORE INTO sync_tokens (app_id, digest, created_at_ms) VALUES (?, ?, ?)",
        )
        .bind(app_id.as_str())
        .bind(digest)
        .bind(now_ms())
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn sync_token_digests(&self, app_id: &AppId) -> Result<Vec<String>, StoreError> {
        let digests = sqlx::query_scalar("SELECT digest FROM sync_tokens WHERE app_id = ?")
            .bind(app_id.as_str())
            .fetch_all(self.pool())
            .await?;
        Ok(digests)
    }

    async fn record_sync_status(
        &self,
        app_id: &AppId,
        report: &SyncStatusReport,
    ) -> Result<(), StoreError> {
        let dev_server = serde_json::to_value(report.dev_server)
            .context("failed to encode the dev server state")?;
        let mut transaction = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sync_status (app_id, revision, dev_server, message, reported_at_ms, runtime) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (app_id) DO UPDATE SET \
             revision = excluded.revision, dev_server = excluded.dev_server, \
             message = excluded.message, reported_at_ms = excluded.reported_at_ms, \
             runtime = excluded.runtime",
        )
        .bind(app_id.as_str())
        .bind(to_i64(report.revision))
        .bind(dev_server.as_str().unwrap_or_default())
        .bind(report.message.as_deref())
        .bind(now_ms())
        .bind(encode_runtime(report)?)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn sync_status(&self, app_id: &AppId) -> Result<Option<SyncStatus>, StoreError> {
        let row = sqlx::query(
            "SELECT revision, dev_server, message, reported_at_ms, runtime FROM sync_status \
             WHERE app_id = ?",
        )
        .bind(app_id.as_str())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let dev_server: String = row.get("dev_server");
        let dev_server: DevServerState = serde_json::from_value(dev_server.into())
            .context("stored dev server state is unknown")?;
        let reported_at_ms: i64 = row.get("reported_at_ms");
        let reported_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(reported_at_ms) * 1_000_000)
                .context("stored report time is out of range")?;
        Ok(Some(SyncStatus {
            report: SyncStatusReport {
                revision: to_u64(row.get("revision")),
                dev_server,
                message: row.get("message"),
                runtime: decode_runtime(row.get("runtime")),
            },
            reported_at,
        }))
    }
}

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
