//! `SyncTokenStore` in the SQL both dialects accept: token digests and the
//! daemons' last reports.

/// Implements `SyncTokenStore` for `$store`.
macro_rules! token_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::SyncTokenStore for $store {
            async fn add_sync_token(
                &self,
                app_id: &sync_protocol::AppId,
                digest: &str,
            ) -> Result<(), $crate::store::StoreError> {
                let mut transaction = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO sync_tokens (app_id, digest, created_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (app_id, digest) DO NOTHING",
                )
                .bind(app_id.as_str())
                .bind(digest)
                .bind($crate::store::shared::to_ms(time::OffsetDateTime::now_utc()))
                .execute(&mut *transaction)
                .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn sync_token_digests(
                &self,
                app_id: &sync_protocol::AppId,
            ) -> Result<Vec<String>, $crate::store::StoreError> {
                let digests = sqlx::query_scalar("SELECT digest FROM sync_tokens WHERE app_id = $1")
                    .bind(app_id.as_str())
                    .fetch_all(self.pool())
                    .await?;
                Ok(digests)
            }

            async fn revoke_sync_tokens(
                &self,
                app_id: &sync_protocol::AppId,
            ) -> Result<u64, $crate::store::StoreError> {
                let mut transaction = self.begin_write().await?;
                let revoked = sqlx::query("DELETE FROM sync_tokens WHERE app_id = $1")
                    .bind(app_id.as_str())
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected();
                transaction.commit().await?;
                Ok(revoked)
            }

            async fn record_sync_status(
                &self,
                app_id: &sync_protocol::AppId,
                report: &sync_protocol::SyncStatusReport,
            ) -> Result<(), $crate::store::StoreError> {
                let dev_server = $crate::store::shared::tokens::dev_server_text(report.dev_server)?;
                let mut transaction = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO sync_status \
                     (app_id, revision, dev_server, message, reported_at_ms, runtime, render) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (app_id) DO UPDATE SET \
                     revision = excluded.revision, dev_server = excluded.dev_server, \
                     message = excluded.message, reported_at_ms = excluded.reported_at_ms, \
                     runtime = excluded.runtime, render = excluded.render",
                )
                .bind(app_id.as_str())
                .bind($crate::store::shared::to_i64(report.revision))
                .bind(dev_server)
                .bind(report.message.as_deref())
                .bind($crate::store::shared::to_ms(time::OffsetDateTime::now_utc()))
                .bind($crate::store::shared::tokens::encode_json(
                    report.runtime.as_ref(),
                    "runtime report",
                )?)
                .bind($crate::store::shared::tokens::encode_json(
                    report.render.as_ref(),
                    "render report",
                )?)
                .execute(&mut *transaction)
                .await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn sync_status(
                &self,
                app_id: &sync_protocol::AppId,
            ) -> Result<Option<$crate::store::SyncStatus>, $crate::store::StoreError> {
                let row: Option<$crate::store::shared::tokens::StatusRow> = sqlx::query_as(
                    "SELECT revision, dev_server, message, reported_at_ms, runtime, render \
                     FROM sync_status \
                     WHERE app_id = $1",
                )
                .bind(app_id.as_str())
                .fetch_optional(self.pool())
                .await?;
                row.map($crate::store::shared::tokens::sync_status).transpose()
            }
        }
    };
}

pub(crate) use token_store;

use sync_protocol::{DevServerState, SyncStatusReport};

use super::{from_ms, to_u64};
use crate::store::{StoreError, SyncStatus};

/// The dev server state as its column holds it: its wire name.
pub(crate) fn dev_server_text(state: DevServerState) -> Result<String, StoreError> {
    let value = serde_json::to_value(state)
        .map_err(|error| StoreError::corrupt(format!("dev server state: {error}")))?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

/// A report's optional part (runtime, render) as the JSON text both
/// backends keep.
pub(crate) fn encode_json<T: serde::Serialize>(
    value: Option<&T>,
    what: &str,
) -> Result<Option<String>, StoreError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = serde_json::to_string(value)
        .map_err(|error| StoreError::corrupt(format!("{what}: {error}")))?;
    Ok(Some(text))
}

/// The kept runtime; one that no longer decodes (an older shape) reads as
/// unknown rather than failing the whole status.
fn decode_runtime(text: Option<String>) -> Option<sync_protocol::RuntimeReport> {
    serde_json::from_str(text.as_deref()?).ok()
}

/// A `sync_status` row: revision, dev server, message, reported at (ms),
/// runtime, render.
pub(crate) type StatusRow = (
    i64,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
);

/// A kept row as the status it records; a runtime or render that no longer
/// decodes (an older shape) reads as unknown.
pub(crate) fn sync_status(
    (revision, dev_server, message, reported_at_ms, runtime, render): StatusRow,
) -> Result<SyncStatus, StoreError> {
    let dev_server: DevServerState = serde_json::from_value(dev_server.clone().into())
        .map_err(|_| StoreError::corrupt(format!("stored dev server state {dev_server:?}")))?;
    Ok(SyncStatus {
        report: SyncStatusReport {
            revision: to_u64(revision),
            dev_server,
            message,
            runtime: decode_runtime(runtime),
            visited_secs_ago: None,
            render: render.and_then(|text| serde_json::from_str(&text).ok()),
        },
        reported_at: from_ms(reported_at_ms)?,
    })
}
