//! The newest control asked of each app's preview, numbered per app, kept
//! in the store so a daemon holding its request on one instance learns of a
//! control asked on another.

use async_trait::async_trait;
use sync_protocol::AppId;
use sync_protocol::controls::{Control, ControlKind};

use crate::store::StoreError;

#[async_trait]
pub trait ControlStore: Send + Sync + 'static {
    /// Records `kind` as the app's newest control, numbered after the last.
    async fn request_control(
        &self,
        app_id: &AppId,
        kind: ControlKind,
    ) -> Result<Control, StoreError>;

    /// The app's newest control, if one was ever asked.
    async fn latest_control(&self, app_id: &AppId) -> Result<Option<Control>, StoreError>;
}

/// Implements `ControlStore` for `$store`.
macro_rules! control_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::logs::ControlStore for $store {
            async fn request_control(
                &self,
                app_id: &sync_protocol::AppId,
                kind: sync_protocol::controls::ControlKind,
            ) -> Result<sync_protocol::controls::Control, $crate::store::StoreError> {
                let mut transaction = self.begin_write().await?;
                let seq: i64 = sqlx::query_scalar(
                    "INSERT INTO preview_controls (app_id, seq, kind, requested_at_ms) \
                     VALUES ($1, 1, $2, $3) ON CONFLICT (app_id) DO UPDATE SET \
                     seq = preview_controls.seq + 1, kind = excluded.kind, \
                     requested_at_ms = excluded.requested_at_ms RETURNING seq",
                )
                .bind(app_id.as_str())
                .bind(kind.as_str())
                .bind($crate::store::shared::to_ms(time::OffsetDateTime::now_utc()))
                .fetch_one(&mut *transaction)
                .await?;
                transaction.commit().await?;
                Ok(sync_protocol::controls::Control {
                    seq: $crate::store::shared::to_u64(seq),
                    kind,
                })
            }

            async fn latest_control(
                &self,
                app_id: &sync_protocol::AppId,
            ) -> Result<Option<sync_protocol::controls::Control>, $crate::store::StoreError> {
                let row: Option<(i64, String)> =
                    sqlx::query_as("SELECT seq, kind FROM preview_controls WHERE app_id = $1")
                        .bind(app_id.as_str())
                        .fetch_optional(self.pool())
                        .await?;
                row.map(|(seq, kind)| {
                    let kind =
                        sync_protocol::controls::ControlKind::parse(&kind).ok_or_else(|| {
                            $crate::store::StoreError::corrupt(format!("stored control {kind:?}"))
                        })?;
                    Ok(sync_protocol::controls::Control {
                        seq: $crate::store::shared::to_u64(seq),
                        kind,
                    })
                })
                .transpose()
            }
        }
    };
}

pub(crate) use control_store;
