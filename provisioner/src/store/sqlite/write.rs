//! What the SQLite backend does its own way: a planned write stored row by
//! row (statements are in-process calls, not round trips), the blob sweep
//! under the write lock, and activity flushed in one transaction.

use std::time::{Duration, Instant};

use sqlx::{QueryBuilder, Sqlite, Transaction};
use sync_protocol::AppId;
use time::OffsetDateTime;

use super::SqliteStore;
use crate::store::shared::{removed, to_i64, to_ms};
use crate::store::write_plan::WritePlan;
use crate::store::{Garbage, StoreError, sweep};

/// Rows per multi-row statement: five bound values a row stays far below
/// SQLite's 32,766 variables.
const ROWS_PER_STATEMENT: usize = 500;

/// Deletes `paths` of `app` from `table` in one statement.
async fn delete_paths<'p>(
    transaction: &mut Transaction<'static, Sqlite>,
    table: &str,
    app: &str,
    paths: impl Iterator<Item = &'p str>,
) -> Result<(), StoreError> {
    let mut delete = QueryBuilder::<Sqlite>::new(format!("DELETE FROM {table} WHERE app_id = "));
    delete.push_bind(app).push(" AND path IN (");
    let mut list = delete.separated(", ");
    for path in paths {
        list.push_bind(path);
    }
    delete.push(")");
    delete.build().execute(&mut **transaction).await?;
    Ok(())
}

impl SqliteStore {
    pub(super) async fn store_plan(
        &self,
        transaction: &mut Transaction<'static, Sqlite>,
        app_id: &AppId,
        plan: &WritePlan<'_>,
    ) -> Result<(), StoreError> {
        // A few statements of many rows each: the write lock is held for
        // the rows, not for thousands of calls to the database's thread.
        let app = app_id.as_str();
        let revision = to_i64(plan.revision);
        for chunk in plan.written.chunks(ROWS_PER_STATEMENT) {
            // The same content is stored once, whichever app or path holds it.
            let mut blobs =
                QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO blobs (sha256, size, content) ");
            blobs.push_values(chunk, |mut row, (_, blob)| {
                row.push_bind(blob.sha256.as_str())
                    .push_bind(to_i64(blob.size()))
                    .push_bind(blob.bytes.as_ref());
            });
            blobs.build().execute(&mut **transaction).await?;
            let mut files = QueryBuilder::<Sqlite>::new(
                "INSERT INTO files (app_id, path, sha256, size, revision) ",
            );
            files.push_values(chunk, |mut row, (path, blob)| {
                row.push_bind(app)
                    .push_bind(path.as_str())
                    .push_bind(blob.sha256.as_str())
                    .push_bind(to_i64(blob.size()))
                    .push_bind(revision);
            });
            files.push(
                " ON CONFLICT (app_id, path) DO UPDATE SET sha256 = excluded.sha256, \
                 size = excluded.size, revision = excluded.revision",
            );
            files.build().execute(&mut **transaction).await?;
            let paths = chunk.iter().map(|(path, _)| path.as_str());
            delete_paths(transaction, "file_tombstones", app, paths).await?;
        }
        for chunk in plan.deleted.chunks(ROWS_PER_STATEMENT) {
            let paths = chunk.iter().map(|path| path.as_str());
            delete_paths(transaction, "files", app, paths).await?;
            let mut tombstones = QueryBuilder::<Sqlite>::new(
                "INSERT INTO file_tombstones (app_id, path, revision) ",
            );
            tombstones.push_values(chunk, |mut row, path| {
                row.push_bind(app)
                    .push_bind(path.as_str())
                    .push_bind(revision);
            });
            tombstones
                .push(" ON CONFLICT (app_id, path) DO UPDATE SET revision = excluded.revision");
            tombstones.build().execute(&mut **transaction).await?;
        }
        for chunk in plan.given_up.chunks(ROWS_PER_STATEMENT) {
            let mut candidates =
                QueryBuilder::<Sqlite>::new("INSERT INTO blob_candidates (sha256) ");
            candidates.push_values(chunk, |mut row, sha256| {
                row.push_bind(sha256.as_str());
            });
            candidates.build().execute(&mut **transaction).await?;
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

    /// Takes the sweep's candidates with `id <= last` and removes those of
    /// their blobs no file references; says how long it held the write lock.
    pub(super) async fn sweep_candidates(
        &self,
        last: i64,
    ) -> Result<(Garbage, Duration), StoreError> {
        // Fsynced like any write, inside the time the page is measured by:
        // a page left unsynced was paid for by the next write's fsync, and
        // the vacuum's steps after a sweep, all of them by one write
        // (hundreds of ms; bench/README.md).
        let mut connection = self.writer().when_idle().await?;
        // Under the write lock, so no write can be between storing a blob and
        // the file row that references it; one page, so the lock is short.
        let mut transaction =
            sqlx::Connection::begin_with(&mut *connection, "BEGIN IMMEDIATE").await?;
        let began = Instant::now();
        let sizes: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM blobs WHERE sha256 IN \
             (SELECT sha256 FROM blob_candidates WHERE id <= $1) \
             AND NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = blobs.sha256) \
             RETURNING size",
        )
        .bind(last)
        .fetch_all(&mut *transaction)
        .await?;
        let deleted = began.elapsed();
        sqlx::query("DELETE FROM blob_candidates WHERE id <= $1")
            .bind(last)
            .execute(&mut *transaction)
            .await?;
        let before_commit = began.elapsed();
        transaction.commit().await?;
        let held = began.elapsed();
        tracing::debug!(
            delete_blobs_ms = deleted.as_millis(),
            delete_candidates_ms = (before_commit - deleted).as_millis(),
            commit_ms = (held - before_commit).as_millis(),
            "sweep page steps"
        );
        Ok((removed(&sizes), held))
    }

    /// Gives the pages the sweep freed back to the file system, a few at a
    /// time (`auto_vacuum = INCREMENTAL`, set when the store is opened):
    /// each step is a write of its own, about as short as a sweep page.
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
            // A free moment of the write connection; fsynced like a page.
            let mut connection = self.writer().when_idle().await?;
            let began = Instant::now();
            sqlx::query(&format!("PRAGMA incremental_vacuum({step})"))
                .execute(&mut *connection)
                .await?;
            let held = began.elapsed();
            drop(connection);
            tracing::debug!(pages = step, held_ms = held.as_millis(), "vacuum step");
            given_back += step;
            // Rests as long as the step held the lock, as the sweep's pages do.
            tokio::time::sleep(held).await;
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
