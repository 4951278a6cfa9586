//! `PreviewStore` on PostgreSQL: one row per preview, steps and driver data as JSON text.

use anyhow::Context;
use async_trait::async_trait;
use sqlx::FromRow;
use sqlx::postgres::PgRow;
use sync_protocol::AppId;
use time::OffsetDateTime;

use super::PostgresStore;
use super::previews::{PreviewRow, PreviewStore, to_ms};
use crate::lifecycle::model::{PreviewRecord, PreviewState};

const COLUMNS: &str = "app_id, state, driver_data, steps, last_activity_at_ms, error, \
                       state_changed_at_ms, created_at_ms, updated_at_ms";
const VALUES: &str = "$1, $2, $3, $4, $5, $6, $7, $8, $9";

#[async_trait]
impl PreviewStore for PostgresStore {
    async fn get_preview(&self, app_id: &AppId) -> anyhow::Result<Option<PreviewRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM previews WHERE app_id = $1"))
            .bind(app_id.as_str())
            .fetch_optional(self.pool())
            .await
            .context("failed to read a preview")?;
        row.map(|row| decode(&row)).transpose()
    }

    async fn insert_preview(&self, record: &PreviewRecord) -> anyhow::Result<bool> {
        let done = bind(
            sqlx::query(&format!(
                "INSERT INTO previews ({COLUMNS}) VALUES ({VALUES}) ON CONFLICT (app_id) DO NOTHING"
            )),
            record,
        )?
        .execute(self.pool())
        .await
        .context("failed to insert a preview")?;
        Ok(done.rows_affected() == 1)
    }

    async fn save_preview(&self, record: &PreviewRecord) -> anyhow::Result<()> {
        bind(
            sqlx::query(&format!(
                "INSERT INTO previews ({COLUMNS}) VALUES ({VALUES}) \
                 ON CONFLICT (app_id) DO UPDATE SET state = excluded.state, \
                 driver_data = excluded.driver_data, steps = excluded.steps, \
                 last_activity_at_ms = \
                 GREATEST(previews.last_activity_at_ms, excluded.last_activity_at_ms), \
                 error = excluded.error, state_changed_at_ms = excluded.state_changed_at_ms, \
                 updated_at_ms = excluded.updated_at_ms"
            )),
            record,
        )?
        .execute(self.pool())
        .await
        .context("failed to save a preview")?;
        Ok(())
    }

    async fn list_previews(
        &self,
        state: Option<PreviewState>,
    ) -> anyhow::Result<Vec<PreviewRecord>> {
        // Byte order, as SQLite sorts, whatever the database's collation.
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM previews WHERE $1::text IS NULL OR state = $1 \
             ORDER BY app_id COLLATE \"C\""
        ))
        .bind(state.map(PreviewState::as_str))
        .fetch_all(self.pool())
        .await
        .context("failed to list previews")?;
        rows.iter().map(decode).collect()
    }

    async fn record_activity(&self, activity: &[(AppId, OffsetDateTime)]) -> anyhow::Result<()> {
        if activity.is_empty() {
            return Ok(());
        }
        // One statement for the whole flush, whatever the number of apps.
        let app_ids: Vec<&str> = activity.iter().map(|(app_id, _)| app_id.as_str()).collect();
        let times: Vec<i64> = activity.iter().map(|(_, at)| to_ms(*at)).collect();
        sqlx::query(
            "UPDATE previews p SET last_activity_at_ms = GREATEST(p.last_activity_at_ms, a.at_ms) \
             FROM (SELECT app_id, MAX(at_ms) AS at_ms \
                   FROM UNNEST($1::text[], $2::bigint[]) AS u (app_id, at_ms) GROUP BY app_id) a \
             WHERE p.app_id = a.app_id",
        )
        .bind(&app_ids)
        .bind(&times)
        .execute(self.pool())
        .await
        .context("failed to record activity")?;
        Ok(())
    }
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind<'q>(query: Query<'q>, record: &'q PreviewRecord) -> anyhow::Result<Query<'q>> {
    Ok(query
        .bind(record.app_id.as_str())
        .bind(record.state.as_str())
        .bind(serde_json::to_string(&record.driver_data).context("failed to encode driver data")?)
        .bind(serde_json::to_string(&record.steps).context("failed to encode steps")?)
        .bind(to_ms(record.last_activity_at))
        .bind(record.error.as_deref())
        .bind(to_ms(record.state_changed_at))
        .bind(to_ms(record.created_at))
        .bind(to_ms(record.updated_at)))
}

fn decode(row: &PgRow) -> anyhow::Result<PreviewRecord> {
    PreviewRow::from_row(row)
        .context("a stored preview row has unexpected columns")?
        .into_record()
}
