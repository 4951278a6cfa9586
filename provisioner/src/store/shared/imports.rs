//! `ImportStore` in the SQL both dialects accept: one row per app, the
//! report as JSON text.

/// Implements `ImportStore` for `$store`.
macro_rules! import_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::imports::ImportStore for $store {
            async fn last_import(
                &self,
                app_id: &sync_protocol::AppId,
            ) -> Result<Option<$crate::import::ImportReport>, $crate::store::StoreError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT report FROM app_imports WHERE app_id = $1")
                        .bind(app_id.as_str())
                        .fetch_optional(self.pool())
                        .await?;
                row.map(|(text,)| $crate::store::shared::decode_json(&text, "import report"))
                    .transpose()
            }

            async fn save_import(
                &self,
                app_id: &sync_protocol::AppId,
                report: &$crate::import::ImportReport,
            ) -> Result<(), $crate::store::StoreError> {
                let text = $crate::store::shared::encode_json(report, "import report")?;
                let now = $crate::store::shared::to_ms(time::OffsetDateTime::now_utc());
                sqlx::query(
                    "INSERT INTO app_imports (app_id, report, updated_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (app_id) DO UPDATE SET report = excluded.report, \
                     updated_at_ms = excluded.updated_at_ms",
                )
                .bind(app_id.as_str())
                .bind(&text)
                .bind(now)
                .execute(self.pool())
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use import_store;
