//! What the PostgreSQL backend does its own way: a planned write stored in a
//! few set-based statements (a batch of hundreds of files costs a handful of
//! round trips, not several per file), blobs locked against a concurrent
//! sweep, the `NOTIFY` that wakes other instances, and activity flushed in
//! one statement.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use sqlx::{Postgres, Transaction};
use sync_protocol::AppId;
use time::OffsetDateTime;

use super::{PostgresStore, REVISION_CHANNEL};
use crate::store::shared::{removed, to_i64, to_ms};
use crate::store::write_plan::WritePlan;
use crate::store::{Garbage, StoreError};

impl PostgresStore {
    pub(super) async fn store_plan(
        &self,
        transaction: &mut Transaction<'static, Postgres>,
        app_id: &AppId,
        plan: &WritePlan<'_>,
    ) -> Result<(), StoreError> {
        put_blobs(transaction, plan).await?;
        let revision = to_i64(plan.revision);
        if !plan.written.is_empty() {
            let paths: Vec<&str> = plan.written.iter().map(|(path, _)| path.as_str()).collect();
            let sha256s: Vec<&str> = plan
                .written
                .iter()
                .map(|(_, blob)| blob.sha256.as_str())
                .collect();
            let sizes: Vec<i64> = plan
                .written
                .iter()
                .map(|(_, blob)| to_i64(blob.size()))
                .collect();
            sqlx::query(
                "INSERT INTO files (app_id, path, sha256, size, revision) \
                 SELECT $1, path, sha256, size, $5 FROM UNNEST($2::text[], $3::text[], $4::bigint[]) \
                 AS written (path, sha256, size) \
                 ON CONFLICT (app_id, path) DO UPDATE SET \
                 sha256 = excluded.sha256, size = excluded.size, revision = excluded.revision",
            )
            .bind(app_id.as_str())
            .bind(&paths)
            .bind(&sha256s)
            .bind(&sizes)
            .bind(revision)
            .execute(&mut **transaction)
            .await?;
            sqlx::query("DELETE FROM file_tombstones WHERE app_id = $1 AND path = ANY($2)")
                .bind(app_id.as_str())
                .bind(&paths)
                .execute(&mut **transaction)
                .await?;
        }
        if !plan.deleted.is_empty() {
            let paths: Vec<&str> = plan.deleted.iter().map(|path| path.as_str()).collect();
            sqlx::query("DELETE FROM files WHERE app_id = $1 AND path = ANY($2)")
                .bind(app_id.as_str())
                .bind(&paths)
                .execute(&mut **transaction)
                .await?;
            sqlx::query(
                "INSERT INTO file_tombstones (app_id, path, revision) \
                 SELECT $1, path, $3 FROM UNNEST($2::text[]) AS deleted (path) \
                 ON CONFLICT (app_id, path) DO UPDATE SET revision = excluded.revision",
            )
            .bind(app_id.as_str())
            .bind(&paths)
            .bind(revision)
            .execute(&mut **transaction)
            .await?;
        }
        if !plan.given_up.is_empty() {
            sqlx::query(
                "INSERT INTO blob_candidates (sha256) SELECT sha256 FROM UNNEST($1::text[]) AS g (sha256)",
            )
            .bind(&plan.given_up)
            .execute(&mut **transaction)
            .await?;
        }
        Ok(())
    }

    /// Delivered to every listening instance when (and only if) the write commits.
    pub(super) async fn announce_write(
        transaction: &mut Transaction<'static, Postgres>,
        app_id: &AppId,
        revision: u64,
    ) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(REVISION_CHANNEL)
            .bind(format!("{app_id} {revision}"))
            .execute(&mut **transaction)
            .await?;
        Ok(())
    }

    /// Takes the sweep's candidates with `id <= last` and removes those of
    /// their blobs no file references; says how long it held its locks.
    pub(super) async fn sweep_candidates(
        &self,
        last: i64,
    ) -> Result<(Garbage, Duration), StoreError> {
        let mut transaction = self.pool().begin().await?;
        let began = Instant::now();
        let taken: Vec<String> =
            sqlx::query_scalar("DELETE FROM blob_candidates WHERE id <= $1 RETURNING sha256")
                .bind(last)
                .fetch_all(&mut *transaction)
                .await?;
        // Blobs a concurrent write has locked (it is about to reference them)
        // are skipped; one this sweep locked first is gone before that write
        // looks, so the write stores it again.
        let swept: Vec<(String, i64)> = sqlx::query_as(
            "DELETE FROM blobs WHERE sha256 IN (SELECT b.sha256 FROM blobs b \
             WHERE b.sha256 = ANY($1) \
             AND NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = b.sha256) \
             FOR UPDATE SKIP LOCKED) RETURNING sha256, size",
        )
        .bind(&taken)
        .fetch_all(&mut *transaction)
        .await?;
        // A skipped blob stays a candidate: if its write rolls back, the
        // next sweep still finds it.
        let swept_sha256s: Vec<&str> = swept.iter().map(|(sha256, _)| sha256.as_str()).collect();
        sqlx::query(
            "INSERT INTO blob_candidates (sha256) SELECT DISTINCT t.sha256 \
             FROM UNNEST($1::text[]) AS t (sha256) \
             WHERE t.sha256 <> ALL($2) \
             AND EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = t.sha256) \
             AND NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = t.sha256)",
        )
        .bind(&taken)
        .bind(&swept_sha256s)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        let sizes: Vec<i64> = swept.iter().map(|(_, size)| *size).collect();
        Ok((removed(&sizes), began.elapsed()))
    }

    /// Nothing to do: autovacuum marks the deleted rows' space (and their
    /// TOASTed content) for reuse by later writes. The files do not shrink
    /// without a `VACUUM FULL`, which locks the tables and is left to the
    /// operator.
    pub(super) async fn reclaim_free_space(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// One statement for the whole flush, whatever the number of apps.
    pub(super) async fn record_activity_rows(
        &self,
        activity: &[(AppId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
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
        .await?;
        Ok(())
    }
}

/// Stores the written content no app holds yet. Content is sent once, and
/// inserted in sha256 order: two writes to different apps that add the same
/// new blobs then wait on each other in one order, never in a cycle.
async fn put_blobs(
    transaction: &mut Transaction<'static, Postgres>,
    plan: &WritePlan<'_>,
) -> Result<(), StoreError> {
    let wanted: BTreeSet<&str> = plan
        .written
        .iter()
        .map(|(_, blob)| blob.sha256.as_str())
        .collect();
    let wanted: Vec<&str> = wanted.into_iter().collect();
    // Locked (KEY SHARE) so that a concurrent clean-up of unreferenced blobs
    // cannot delete one this write is about to reference.
    let present: Vec<String> =
        sqlx::query_scalar("SELECT sha256 FROM blobs WHERE sha256 = ANY($1) FOR KEY SHARE")
            .bind(&wanted)
            .fetch_all(&mut **transaction)
            .await?;
    let mut stored: HashSet<&str> = present.iter().map(String::as_str).collect();
    let mut new_blobs: Vec<_> = plan.written.iter().map(|(_, blob)| *blob).collect();
    new_blobs.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    for blob in new_blobs {
        if !stored.insert(blob.sha256.as_str()) {
            continue;
        }
        sqlx::query(
            "INSERT INTO blobs (sha256, size, content) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&blob.sha256)
        .bind(to_i64(blob.size()))
        .bind(blob.bytes.as_ref())
        .execute(&mut **transaction)
        .await?;
    }
    Ok(())
}
