//! `FileStore::apply` on PostgreSQL.
//!
//! A write locks the app's row first, so two instances writing to one app
//! take turns and each sees the other's committed counters. The changes are
//! then worked out in memory against one read of the touched paths, and
//! written back in a few set-based statements: a batch of hundreds of files
//! costs a handful of round trips, not several per file.

use std::collections::{BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use sqlx::{Postgres, Row, Transaction};
use sync_protocol::AppId;

use super::postgres::REVISION_CHANNEL;
use super::postgres_files::{AppRow, read_app_row};
use super::sqlite::{to_i64, to_u64};
use super::{AppLimits, Blob, FileChange, PostgresStore, StoreError, WriteOutcome};

#[tracing::instrument(skip_all, fields(app_id = %app_id, changes = changes.len()))]
pub(super) async fn apply(
    store: &PostgresStore,
    app_id: &AppId,
    changes: &[FileChange],
    limits: AppLimits,
) -> Result<WriteOutcome, StoreError> {
    let mut transaction = store.pool().begin().await?;
    // The row must exist to be locked; a concurrent first write waits on
    // the insert until the other commits, then finds the row.
    sqlx::query("INSERT INTO apps (app_id) VALUES ($1) ON CONFLICT (app_id) DO NOTHING")
        .bind(app_id.as_str())
        .execute(&mut *transaction)
        .await?;
    let app = locked_app_row(&mut transaction, app_id).await?;
    let mut usage = app.usage;
    let revision = app.revision + 1;

    // Each touched path's content as the changes run, in order: the
    // same path may appear several times in one batch.
    let mut current = current_files(&mut transaction, app_id, changes).await?;
    let mut touched = BTreeSet::new();
    let mut changed = 0;
    for (index, change) in changes.iter().enumerate() {
        let slot = current.entry(change.path.as_str().to_owned()).or_default();
        match (&change.content, slot.as_ref()) {
            (Some(blob), Some(file)) if file.sha256 == blob.sha256 => continue,
            (Some(blob), existing) => {
                usage.put(existing.map(|file| file.size), blob.bytes.len() as u64);
                *slot = Some(Current::from_blob(blob));
            }
            (None, Some(file)) => {
                usage.delete(file.size);
                *slot = None;
            }
            (None, None) => {
                return Err(StoreError::FileNotFound {
                    index,
                    path: change.path.clone(),
                });
            }
        }
        touched.insert(change.path.as_str());
        changed += 1;
    }

    if changed == 0 {
        // Dropping the transaction rolls it back: nothing to record.
        return Ok(WriteOutcome {
            revision: app.revision,
            changed: 0,
        });
    }
    limits.check(app.usage, usage)?;

    let mut written = Vec::new();
    let mut deleted = Vec::new();
    for path in touched {
        match &current[path] {
            Some(file) => written.push((path, file)),
            None => deleted.push(path),
        }
    }
    put_blobs(&mut transaction, changes, &written).await?;
    put_files(&mut transaction, app_id, &written, revision).await?;
    delete_files(&mut transaction, app_id, &deleted, revision).await?;

    // Deletions older than the retention are forgotten; a `since` before
    // the new floor then gets the full manifest instead of a wrong delta.
    let history_floor = limits.history_floor(app.history_floor, revision);
    sqlx::query("DELETE FROM file_tombstones WHERE app_id = $1 AND revision <= $2")
        .bind(app_id.as_str())
        .bind(to_i64(history_floor))
        .execute(&mut *transaction)
        .await?;
    sqlx::query(
        "UPDATE apps SET revision = $1, file_count = $2, total_bytes = $3, history_floor = $4 \
         WHERE app_id = $5",
    )
    .bind(to_i64(revision))
    .bind(to_i64(usage.file_count))
    .bind(to_i64(usage.total_bytes))
    .bind(to_i64(history_floor))
    .bind(app_id.as_str())
    .execute(&mut *transaction)
    .await?;
    // Delivered to every listening instance when (and only if) this commits.
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(REVISION_CHANNEL)
        .bind(format!("{app_id} {revision}"))
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(WriteOutcome { revision, changed })
}

/// A path's content while a write is worked out.
#[derive(Clone, Debug)]
struct Current {
    sha256: String,
    size: u64,
}

impl Current {
    fn from_blob(blob: &Blob) -> Current {
        Current {
            sha256: blob.sha256.clone(),
            size: blob.bytes.len() as u64,
        }
    }
}

async fn locked_app_row(
    transaction: &mut Transaction<'static, Postgres>,
    app_id: &AppId,
) -> Result<AppRow, StoreError> {
    read_app_row(transaction, app_id, " FOR UPDATE").await
}

/// The stored content of every path the changes touch (absent paths map to `None`).
async fn current_files(
    transaction: &mut Transaction<'static, Postgres>,
    app_id: &AppId,
    changes: &[FileChange],
) -> Result<HashMap<String, Option<Current>>, StoreError> {
    let paths: Vec<&str> = changes.iter().map(|change| change.path.as_str()).collect();
    let rows =
        sqlx::query("SELECT path, sha256, size FROM files WHERE app_id = $1 AND path = ANY($2)")
            .bind(app_id.as_str())
            .bind(&paths)
            .fetch_all(&mut **transaction)
            .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let current = Current {
                sha256: row.get("sha256"),
                size: to_u64(row.get("size")),
            };
            (row.get("path"), Some(current))
        })
        .collect())
}

/// Stores the content of `written` that no app holds yet. Content is sent
/// once, and inserted in sha256 order: two writes to different apps that
/// add the same new blobs then wait on each other in one order, never in a
/// cycle.
async fn put_blobs(
    transaction: &mut Transaction<'static, Postgres>,
    changes: &[FileChange],
    written: &[(&str, &Current)],
) -> Result<(), StoreError> {
    let wanted: BTreeSet<&str> = written
        .iter()
        .map(|(_, file)| file.sha256.as_str())
        .collect();
    let wanted: Vec<&str> = wanted.into_iter().collect();
    // Locked (KEY SHARE) so that a concurrent clean-up of unreferenced blobs
    // cannot delete one this write is about to reference.
    let present: Vec<String> =
        sqlx::query_scalar("SELECT sha256 FROM blobs WHERE sha256 = ANY($1) FOR KEY SHARE")
            .bind(&wanted)
            .fetch_all(&mut **transaction)
            .await?;
    let by_sha256: HashMap<&str, &Bytes> = changes
        .iter()
        .filter_map(|change| change.content.as_ref())
        .map(|blob| (blob.sha256.as_str(), &blob.bytes))
        .collect();
    let present: HashSet<&str> = present.iter().map(String::as_str).collect();
    for sha256 in wanted {
        if present.contains(sha256) {
            continue;
        }
        let Some(bytes) = by_sha256.get(sha256) else {
            continue;
        };
        sqlx::query(
            "INSERT INTO blobs (sha256, size, content) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(to_i64(bytes.len() as u64))
        .bind(bytes.as_ref())
        .execute(&mut **transaction)
        .await?;
    }
    Ok(())
}

async fn put_files(
    transaction: &mut Transaction<'static, Postgres>,
    app_id: &AppId,
    written: &[(&str, &Current)],
    revision: u64,
) -> Result<(), StoreError> {
    if written.is_empty() {
        return Ok(());
    }
    let paths: Vec<&str> = written.iter().map(|(path, _)| *path).collect();
    let sha256s: Vec<&str> = written
        .iter()
        .map(|(_, file)| file.sha256.as_str())
        .collect();
    let sizes: Vec<i64> = written.iter().map(|(_, file)| to_i64(file.size)).collect();
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
    .bind(to_i64(revision))
    .execute(&mut **transaction)
    .await?;
    sqlx::query("DELETE FROM file_tombstones WHERE app_id = $1 AND path = ANY($2)")
        .bind(app_id.as_str())
        .bind(&paths)
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

async fn delete_files(
    transaction: &mut Transaction<'static, Postgres>,
    app_id: &AppId,
    deleted: &[&str],
    revision: u64,
) -> Result<(), StoreError> {
    if deleted.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM files WHERE app_id = $1 AND path = ANY($2)")
        .bind(app_id.as_str())
        .bind(deleted)
        .execute(&mut **transaction)
        .await?;
    sqlx::query(
        "INSERT INTO file_tombstones (app_id, path, revision) \
         SELECT $1, path, $3 FROM UNNEST($2::text[]) AS deleted (path) \
         ON CONFLICT (app_id, path) DO UPDATE SET revision = excluded.revision",
    )
    .bind(app_id.as_str())
    .bind(deleted)
    .bind(to_i64(revision))
    .execute(&mut **transaction)
    .await?;
    Ok(())
}
