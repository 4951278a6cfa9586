//! `PreviewStore` in the SQL both dialects accept: one row per preview,
//! steps and driver data as JSON text, times as unix milliseconds.

/// Implements `PreviewStore` for `$store`, whose pool holds `$db` connections.
macro_rules! preview_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::previews::PreviewStore for $store {
            async fn get_preview(
                &self,
                app_id: &sync_protocol::AppId,
            ) -> Result<Option<$crate::lifecycle::model::PreviewRecord>, $crate::store::StoreError> {
                use $crate::store::shared::previews::{COLUMNS, PreviewRow};
                let row: Option<PreviewRow> =
                    sqlx::query_as(&format!("SELECT {COLUMNS} FROM previews WHERE app_id = $1"))
                        .bind(app_id.as_str())
                        .fetch_optional(self.pool())
                        .await?;
                row.map(PreviewRow::into_record).transpose()
            }

            async fn insert_preview(
                &self,
                record: &$crate::lifecycle::model::PreviewRecord,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::shared::previews::{COLUMNS, PreviewRow, VALUES};
                let row = PreviewRow::from_record(record)?;
                let sql = format!(
                    "INSERT INTO previews ({COLUMNS}) VALUES ({VALUES}) ON CONFLICT (app_id) DO NOTHING"
                );
                let done = row.bind(sqlx::query::<$db>(&sql)).execute(self.pool()).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn save_preview(
                &self,
                record: &$crate::lifecycle::model::PreviewRecord,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::shared::previews::{COLUMNS, PreviewRow, VALUES};
                let row = PreviewRow::from_record(record)?;
                let sql = format!(
                    "INSERT INTO previews ({COLUMNS}) VALUES ({VALUES}) \
                     ON CONFLICT (app_id) DO UPDATE SET state = excluded.state, \
                     driver_data = excluded.driver_data, steps = excluded.steps, \
                     platform_name = excluded.platform_name, \
                     last_activity_at_ms = \
                     {}(previews.last_activity_at_ms, excluded.last_activity_at_ms), \
                     error = excluded.error, state_changed_at_ms = excluded.state_changed_at_ms, \
                     updated_at_ms = excluded.updated_at_ms",
                    Self::GREATEST
                );
                row.bind(sqlx::query::<$db>(&sql)).execute(self.pool()).await?;
                Ok(())
            }

            async fn list_previews(
                &self,
                state: Option<$crate::lifecycle::model::PreviewState>,
            ) -> Result<Vec<$crate::lifecycle::model::PreviewRecord>, $crate::store::StoreError> {
                use $crate::store::shared::previews::{COLUMNS, PreviewRow};
                let order = format!("ORDER BY app_id{}", Self::BYTE_ORDER);
                let rows: Vec<PreviewRow> = match state {
                    Some(state) => {
                        sqlx::query_as(&format!(
                            "SELECT {COLUMNS} FROM previews WHERE state = $1 {order}"
                        ))
                        .bind(state.as_str())
                        .fetch_all(self.pool())
                        .await?
                    }
                    None => {
                        sqlx::query_as(&format!("SELECT {COLUMNS} FROM previews {order}"))
                            .fetch_all(self.pool())
                            .await?
                    }
                };
                rows.into_iter().map(PreviewRow::into_record).collect()
            }

            async fn record_activity(
                &self,
                activity: &[(sync_protocol::AppId, time::OffsetDateTime)],
            ) -> Result<(), $crate::store::StoreError> {
                if activity.is_empty() {
                    return Ok(());
                }
                self.record_activity_rows(activity).await
            }
        }
    };
}

pub(crate) use preview_store;

use sync_protocol::AppId;

use super::{from_ms, to_ms};
use crate::lifecycle::driver::DriverData;
use crate::lifecycle::model::{PreviewRecord, PreviewState};
use crate::store::StoreError;

pub(crate) const COLUMNS: &str = "app_id, state, driver_data, steps, last_activity_at_ms, error, \
                                  state_changed_at_ms, created_at_ms, updated_at_ms, platform_name";
pub(crate) const VALUES: &str = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10";

/// A `previews` row as both backends store it: JSON text for the maps and
/// lists, milliseconds since the epoch for times.
#[derive(sqlx::FromRow)]
pub(crate) struct PreviewRow {
    app_id: String,
    state: String,
    driver_data: String,
    steps: String,
    last_activity_at_ms: i64,
    error: Option<String>,
    state_changed_at_ms: i64,
    created_at_ms: i64,
    updated_at_ms: i64,
    platform_name: Option<String>,
}

impl PreviewRow {
    pub(crate) fn from_record(record: &PreviewRecord) -> Result<PreviewRow, StoreError> {
        let json = |value: Result<String, serde_json::Error>, what: &str| {
            value.map_err(|error| StoreError::corrupt(format!("failed to encode {what}: {error}")))
        };
        Ok(PreviewRow {
            app_id: record.app_id.to_string(),
            state: record.state.as_str().to_owned(),
            driver_data: json(serde_json::to_string(&record.driver_data), "driver data")?,
            steps: json(serde_json::to_string(&record.steps), "steps")?,
            last_activity_at_ms: to_ms(record.last_activity_at),
            error: record.error.clone(),
            state_changed_at_ms: to_ms(record.state_changed_at),
            created_at_ms: to_ms(record.created_at),
            updated_at_ms: to_ms(record.updated_at),
            platform_name: record.driver_data.platform_name().map(str::to_owned),
        })
    }

    /// Binds the row's values as `$1` to `$10`, in [`COLUMNS`] order.
    pub(crate) fn bind<'q, DB>(
        self,
        query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
    where
        DB: sqlx::Database,
        String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        query
            .bind(self.app_id)
            .bind(self.state)
            .bind(self.driver_data)
            .bind(self.steps)
            .bind(self.last_activity_at_ms)
            .bind(self.error)
            .bind(self.state_changed_at_ms)
            .bind(self.created_at_ms)
            .bind(self.updated_at_ms)
            .bind(self.platform_name)
    }

    pub(crate) fn into_record(self) -> Result<PreviewRecord, StoreError> {
        let corrupt =
            |what: &str, value: &str| StoreError::corrupt(format!("stored {what} {value:?}"));
        let mut driver_data: DriverData = serde_json::from_str(&self.driver_data)
            .map_err(|_| corrupt("driver data", &self.driver_data))?;
        driver_data.set_platform_name(self.platform_name);
        Ok(PreviewRecord {
            app_id: AppId::parse(&self.app_id).map_err(|_| corrupt("app id", &self.app_id))?,
            state: PreviewState::parse(&self.state).ok_or_else(|| corrupt("state", &self.state))?,
            driver_data,
            steps: serde_json::from_str(&self.steps).map_err(|_| corrupt("steps", &self.steps))?,
            last_activity_at: from_ms(self.last_activity_at_ms)?,
            error: self.error,
            state_changed_at: from_ms(self.state_changed_at_ms)?,
            created_at: from_ms(self.created_at_ms)?,
            updated_at: from_ms(self.updated_at_ms)?,
        })
    }
}
