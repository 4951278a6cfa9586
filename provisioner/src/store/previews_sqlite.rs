//! `PreviewStore` on SQLite: one row per preview, steps and driver data as JSON.

use anyhow::Context;
use async_trait::async_trait;
use sqlx::FromRow;
use sqlx::sqlite::SqliteRow;
use sync_protocol::AppId;
use time::OffsetDateTime;

use super::SqliteStore;
use super::previews::{PreviewRow, PreviewStore, to_ms};
use crate::lifecycle::model::{PreviewRecord, PreviewState};

const COLUMNS: &str = "app_id, state, driver_data, steps, last_activity_at_ms, error, \
                       state_changed_at_ms, created_at_ms, updated_at_ms";

#[async_trait]
impl PreviewStore for SqliteStore {
    async fn get_preview(&self, app_id: &AppId) -> anyhow::Result<Option<PreviewRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM previews WHERE app_id = ?"))
            .bind(app_id.as_str())
            .fetch_optional(self.pool())
            .await
            .context("failed to read a preview")?;
        row.map(|row| decode(&row)).transpose()
    }

    async fn insert_preview(&self, record: &PreviewRecord) -> anyhow::Result<bool> {
        let done = bind(
            sqlx::query(&format!(
                "INSERT INTO previews ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (app_id) DO NOTHING"
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
                "INSERT INTO previews ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (app_id) DO UPDATE SET state = excluded.state, \
                 driver_data = excluded.driver_data, steps = excluded.steps, \
                 last_activity_at_ms = max(previews.last_activity_at_ms, excluded.last_activity_at_ms), \
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
        let rows = match state {
            Some(state) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM previews WHERE state = ? ORDER BY app_id"
                ))
                .bind(state.as_str())
                .fetch_all(self.pool())
                .await
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM previews ORDER BY app_id"))
                    .fetch_all(self.pool())
                    .await
            }
        }
        .context("failed to list previews")?;
        rows.iter().map(decode).collect()
    }

    async fn record_activity(&self, activity: &[(AppId, OffsetDateTime)]) -> anyhow::Result<()> {
        // One transaction for the whole flush: one fsync however many apps were active.
        let mut transaction = self
            .begin_write()
            .await
            .context("failed to begin an activity flush")?;
        for (app_id, at) in activity {
            sqlx::query(
                "UPDATE previews SET last_activity_at_ms = max(last_activity_at_ms, ?) WHERE app_id = ?",
            )
            .bind(to_ms(*at))
            .bind(app_id.as_str())
            .execute(&mut *transaction)
            .await
            .context("failed to record activity")?;
        }
        transaction
            .commit()
            .await
            .context("failed to commit an activity flush")?;
        Ok(())
    }
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

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

fn decode(row: &SqliteRow) -> anyhow::Result<PreviewRecord> {
    PreviewRow::from_row(row)
        .context("a stored preview row has unexpected columns")?
        .into_record()
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::lifecycle::model::StepStatus;

    #[tokio::test]
    async fn previews_round_trip_and_activity_only_moves_forward() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let app_id = AppId::parse("shop").unwrap();
        let mut record = PreviewRecord::new(app_id.clone(), &["create_app", "create_machine"], now);
        record
            .driver_data
            .insert("machine_id".to_owned(), "m1".to_owned());
        record.steps[0].status = StepStatus::Done;
        record.steps[0].log = Some("created".to_owned());

        let inserted = store.insert_preview(&record).await.unwrap();
        let inserted_again = store.insert_preview(&record).await.unwrap();
        record.set_state(PreviewState::Running, now + Duration::seconds(1));
        store.save_preview(&record).await.unwrap();
        store
            .record_activity(&[(app_id.clone(), now + Duration::seconds(30))])
            .await
            .unwrap();
        store
            .record_activity(&[(app_id.clone(), now + Duration::seconds(10))])
            .await
            .unwrap();
        let stored = store.get_preview(&app_id).await.unwrap().unwrap();
        let running = store
            .list_previews(Some(PreviewState::Running))
            .await
            .unwrap();
        let stopped = store
            .list_previews(Some(PreviewState::Stopped))
            .await
            .unwrap();

        assert!(inserted);
        assert!(!inserted_again);
        assert_eq!(stored.last_activity_at, now + Duration::seconds(30));
        assert_eq!(
            PreviewRecord {
                last_activity_at: record.last_activity_at,
                ..stored.clone()
            },
            record
        );
        assert_eq!(running.len(), 1);
        assert!(stopped.is_empty());
    }
}
