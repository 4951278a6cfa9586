//! `AppSettingsStore` in the SQL both dialects accept: one row per app, the
//! settings as JSON text, a version for compare-and-set.

/// Implements `AppSettingsStore` for `$store`.
macro_rules! settings_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::settings::AppSettingsStore for $store {
            async fn app_settings(
                &self,
                app_id: &sync_protocol::AppId,
            ) -> Result<Option<($crate::settings::AppSettings, u64)>, $crate::store::StoreError>
            {
                let row: Option<(String, i64)> =
                    sqlx::query_as("SELECT settings, version FROM app_settings WHERE app_id = $1")
                        .bind(app_id.as_str())
                        .fetch_optional(self.pool())
                        .await?;
                row.map(|(text, version)| {
                    Ok((
                        $crate::store::shared::decode_json(&text, "settings")?,
                        $crate::store::shared::to_u64(version),
                    ))
                })
                .transpose()
            }

            async fn save_app_settings(
                &self,
                app_id: &sync_protocol::AppId,
                settings: &$crate::settings::AppSettings,
                expected: Option<u64>,
            ) -> Result<bool, $crate::store::StoreError> {
                let text = $crate::store::shared::encode_json(settings, "settings")?;
                let now = $crate::store::shared::to_ms(time::OffsetDateTime::now_utc());
                let mut transaction = self.begin_write().await?;
                let saved = match expected {
                    None => sqlx::query(
                        "INSERT INTO app_settings (app_id, settings, version, updated_at_ms) \
                         VALUES ($1, $2, 1, $3) ON CONFLICT (app_id) DO NOTHING",
                    )
                    .bind(app_id.as_str())
                    .bind(&text)
                    .bind(now)
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected(),
                    Some(version) => sqlx::query(
                        "UPDATE app_settings SET settings = $2, version = version + 1, \
                         updated_at_ms = $3 WHERE app_id = $1 AND version = $4",
                    )
                    .bind(app_id.as_str())
                    .bind(&text)
                    .bind(now)
                    .bind($crate::store::shared::to_i64(version))
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected(),
                };
                transaction.commit().await?;
                Ok(saved == 1)
            }
        }
    };
}

pub(crate) use settings_store;
