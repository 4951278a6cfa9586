//! `FileStore` in the SQL both dialects accept: a write reads, asks
//! [`plan_write`](crate::store::write_plan::plan_write) and leaves the storing
//! to the backend; manifests, deltas and blob reads are the same statements.

/// Implements `FileStore` for `$store`, whose pool holds `$db` connections.
macro_rules! file_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::FileStore for $store {
            #[tracing::instrument(skip_all, fields(app_id = %app_id, changes = changes.len()))]
            async fn apply(
                &self,
                app_id: &sync_protocol::AppId,
                changes: &[$crate::store::FileChange],
                limits: $crate::store::AppLimits,
            ) -> Result<$crate::store::WriteOutcome, $crate::store::StoreError> {
                use $crate::store::write_plan::{
                    WriteDecision, beneath_limit, may_create, paths_to_read, plan_write,
                };
                let mut transaction = self.begin_write().await?;
                let found =
                    Self::found_app_row(&mut transaction, app_id, Self::LOCK_APP_ROW).await?;
                let app = match found {
                    Some(app) => app,
                    None => {
                        // The row must exist to be locked; a concurrent first
                        // write waits on the insert until the other commits,
                        // then finds it.
                        sqlx::query(
                            "INSERT INTO apps (app_id) VALUES ($1) \
                             ON CONFLICT (app_id) DO NOTHING",
                        )
                        .bind(app_id.as_str())
                        .execute(&mut *transaction)
                        .await?;
                        Self::app_row(&mut transaction, app_id, Self::LOCK_APP_ROW).await?
                    }
                };
                let stored =
                    Self::stored_files(&mut transaction, app_id, &paths_to_read(changes)).await?;
                let created = may_create(changes, &stored);
                let limit = beneath_limit(changes);
                let beneath =
                    Self::stored_beneath(&mut transaction, app_id, &created, limit).await?;
                let plan = match plan_write(app, &stored, &beneath, changes, limits)? {
                    // Dropping the transaction rolls it back: nothing to record.
                    WriteDecision::NoOp { revision } => {
                        return Ok($crate::store::WriteOutcome {
                            revision,
                            changed: 0,
                            garbage: $crate::store::Garbage::default(),
                            delta: None,
                        });
                    }
                    WriteDecision::Write(plan) => plan,
                };
                self.store_plan(&mut transaction, app_id, &plan).await?;
                // Every tombstone is above the floor it was made under.
                if plan.history_floor > app.history_floor {
                    sqlx::query("DELETE FROM file_tombstones WHERE app_id = $1 AND revision <= $2")
                        .bind(app_id.as_str())
                        .bind($crate::store::shared::to_i64(plan.history_floor))
                        .execute(&mut *transaction)
                        .await?;
                }
                sqlx::query(
                    "UPDATE apps SET revision = $1, file_count = $2, total_bytes = $3, \
                     history_floor = $4, garbage_bytes = garbage_bytes + $5, \
                     garbage_blobs = garbage_blobs + $6 WHERE app_id = $7",
                )
                .bind($crate::store::shared::to_i64(plan.revision))
                .bind($crate::store::shared::to_i64(plan.usage.file_count))
                .bind($crate::store::shared::to_i64(plan.usage.total_bytes))
                .bind($crate::store::shared::to_i64(plan.history_floor))
                .bind($crate::store::shared::to_i64(plan.garbage.bytes))
                .bind($crate::store::shared::to_i64(plan.garbage.blobs))
                .bind(app_id.as_str())
                .execute(&mut *transaction)
                .await?;
                Self::announce_write(&mut transaction, app_id, plan.revision).await?;
                transaction.commit().await?;
                Ok(plan.outcome())
            }

            async fn revision(
                &self,
                app_id: &sync_protocol::AppId,
            ) -> Result<u64, $crate::store::StoreError> {
                let revision: Option<i64> =
                    sqlx::query_scalar("SELECT revision FROM apps WHERE app_id = $1")
                        .bind(app_id.as_str())
                        .fetch_optional(self.pool())
                        .await?;
                Ok(revision.map_or(0, $crate::store::shared::to_u64))
            }

            #[tracing::instrument(skip_all, fields(app_id = %app_id))]
            async fn manifest(
                &self,
                app_id: &sync_protocol::AppId,
            ) -> Result<$crate::store::Manifest, $crate::store::StoreError> {
                // One snapshot, so the revision and the rows agree.
                let mut transaction = self.begin_snapshot().await?;
                let app = Self::app_row(&mut transaction, app_id, "").await?;
                let files = Self::file_entries(&mut transaction, app_id, 0).await?;
                transaction.commit().await?;
                Ok($crate::store::Manifest {
                    revision: app.revision,
                    files,
                })
            }

            #[tracing::instrument(skip_all, fields(app_id = %app_id, since))]
            async fn changes_since(
                &self,
                app_id: &sync_protocol::AppId,
                since: u64,
            ) -> Result<$crate::store::Changes, $crate::store::StoreError> {
                let mut transaction = self.begin_snapshot().await?;
                let app = Self::app_row(&mut transaction, app_id, "").await?;
                if !app.answers_delta_since(since) {
                    let files = Self::file_entries(&mut transaction, app_id, 0).await?;
                    transaction.commit().await?;
                    let manifest = $crate::store::Manifest {
                        revision: app.revision,
                        files,
                    };
                    return Ok($crate::store::Changes::Full(manifest));
                }
                let files = Self::file_entries(&mut transaction, app_id, since).await?;
                let deleted: Vec<String> = sqlx::query_scalar(&format!(
                    "SELECT path FROM file_tombstones WHERE app_id = $1 AND revision > $2 \
                     ORDER BY path{}",
                    Self::BYTE_ORDER
                ))
                .bind(app_id.as_str())
                .bind($crate::store::shared::to_i64(since))
                .fetch_all(&mut *transaction)
                .await?;
                transaction.commit().await?;
                let deleted = deleted
                    .into_iter()
                    .map($crate::store::shared::stored_path)
                    .collect::<Result<_, _>>()?;
                Ok($crate::store::Changes::Delta {
                    revision: app.revision,
                    files,
                    deleted,
                })
            }

            async fn read_file(
                &self,
                app_id: &sync_protocol::AppId,
                path: &sync_protocol::FilePath,
            ) -> Result<Option<$crate::store::Blob>, $crate::store::StoreError> {
                let row: Option<(String, Vec<u8>)> = sqlx::query_as(
                    "SELECT f.sha256, b.content FROM files f JOIN blobs b ON b.sha256 = f.sha256 \
                     WHERE f.app_id = $1 AND f.path = $2",
                )
                .bind(app_id.as_str())
                .bind(path.as_str())
                .fetch_optional(self.pool())
                .await?;
                Ok(row.map(|(sha256, content)| $crate::store::Blob {
                    sha256,
                    bytes: bytes::Bytes::from(content),
                }))
            }

            async fn referenced_blobs(
                &self,
                app_id: &sync_protocol::AppId,
                sha256s: &[String],
            ) -> Result<Vec<(String, u64)>, $crate::store::StoreError> {
                if sha256s.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT DISTINCT sha256, size FROM files WHERE app_id = ",
                );
                query.push_bind(app_id.as_str()).push(" AND sha256 IN (");
                let mut separated = query.separated(", ");
                for sha256 in sha256s {
                    separated.push_bind(sha256.as_str());
                }
                query.push(")");
                let rows: Vec<(String, i64)> =
                    query.build_query_as().fetch_all(self.pool()).await?;
                Ok(rows
                    .into_iter()
                    .map(|(sha256, size)| (sha256, $crate::store::shared::to_u64(size)))
                    .collect())
            }

            async fn read_blob(
                &self,
                app_id: &sync_protocol::AppId,
                sha256: &str,
            ) -> Result<Option<bytes::Bytes>, $crate::store::StoreError> {
                let content: Option<Vec<u8>> = sqlx::query_scalar(
                    "SELECT b.content FROM blobs b WHERE b.sha256 = $1 AND EXISTS \
                     (SELECT 1 FROM files f WHERE f.app_id = $2 AND f.sha256 = b.sha256)",
                )
                .bind(sha256)
                .bind(app_id.as_str())
                .fetch_optional(self.pool())
                .await?;
                Ok(content.map(bytes::Bytes::from))
            }

            fn read_blobs(
                &self,
                app_id: &sync_protocol::AppId,
                sha256s: &[String],
            ) -> $crate::store::BlobStream {
                self.stream_blobs(app_id, sha256s)
            }

            async fn stored_blob_count(&self) -> Result<u64, $crate::store::StoreError> {
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blobs")
                    .fetch_one(self.pool())
                    .await?;
                Ok($crate::store::shared::to_u64(count))
            }

            /// Pages through the blobs the writes gave up before it began
            /// (`blob_candidates`), reading each page's bounds without a lock
            /// and sweeping it in a short write of its own (see
            /// `store::sweep`), so writes to other apps wait at most one page
            /// and the work follows the garbage, not the store's size; then
            /// records what it counted and removed, and gives the freed space
            /// back where the database needs telling.
            async fn remove_unreferenced_blobs(
                &self,
            ) -> Result<$crate::store::Garbage, $crate::store::StoreError> {
                use $crate::store::sweep;
                // Garbage made from here on is left for the next sweep.
                let counted = self.garbage_counted_by_apps().await?;
                let horizon: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(id) FROM blob_candidates")
                        .fetch_one(self.pool())
                        .await?;
                let mut removed = $crate::store::Garbage::default();
                let mut after = 0i64;
                let mut page_blobs = sweep::FIRST_PAGE_BLOBS;
                while let Some(horizon) = horizon {
                    let page: Vec<(i64, i64)> = sqlx::query_as(
                        "SELECT c.id, CAST(COALESCE(b.size, 0) AS BIGINT) FROM blob_candidates c \
                         LEFT JOIN blobs b ON b.sha256 = c.sha256 \
                         WHERE c.id > $1 AND c.id <= $2 ORDER BY c.id LIMIT $3",
                    )
                    .bind(after)
                    .bind(horizon)
                    .bind(page_blobs)
                    .fetch_all(self.pool())
                    .await?;
                    let sizes: Vec<u64> = page
                        .iter()
                        .map(|(_, size)| $crate::store::shared::to_u64(*size))
                        .collect();
                    let length = sweep::page_len(&sizes, sweep::PAGE_BYTES);
                    let Some((last, _)) = length.checked_sub(1).and_then(|end| page.get(end))
                    else {
                        break;
                    };
                    let (page_removed, held) = self.sweep_candidates(*last).await?;
                    tracing::debug!(
                        candidates = length,
                        removed_blobs = page_removed.blobs,
                        held_ms = held.as_millis(),
                        "sweep page"
                    );
                    removed = removed + page_removed;
                    page_blobs = sweep::next_page_blobs(page_blobs, held);
                    after = *last;
                    // Rests as long as the page held the lock: the writes
                    // that queued behind it go first, and the sweep takes at
                    // most about half of the database's time.
                    tokio::time::sleep(held).await;
                }
                sqlx::query(&format!(
                    "UPDATE blob_sweeps SET counted_bytes = {greatest}(counted_bytes, $1), \
                     counted_blobs = {greatest}(counted_blobs, $2), \
                     swept_bytes = swept_bytes + $3, swept_blobs = swept_blobs + $4 \
                     WHERE singleton = 1",
                    greatest = Self::GREATEST
                ))
                .bind(counted.0)
                .bind(counted.1)
                .bind($crate::store::shared::to_i64(removed.bytes))
                .bind($crate::store::shared::to_i64(removed.blobs))
                .execute(self.pool())
                .await?;
                self.reclaim_free_space().await?;
                Ok(removed)
            }

            async fn blob_garbage(
                &self,
            ) -> Result<$crate::store::BlobGarbage, $crate::store::StoreError> {
                let counted = self.garbage_counted_by_apps().await?;
                let (counted_bytes, counted_blobs, swept_bytes, swept_blobs): (i64, i64, i64, i64) =
                    sqlx::query_as(
                        "SELECT counted_bytes, counted_blobs, swept_bytes, swept_blobs \
                         FROM blob_sweeps WHERE singleton = 1",
                    )
                    .fetch_one(self.pool())
                    .await?;
                Ok($crate::store::BlobGarbage {
                    pending: $crate::store::sweep::pending(counted, (counted_bytes, counted_blobs)),
                    swept: $crate::store::Garbage {
                        bytes: $crate::store::shared::to_u64(swept_bytes),
                        blobs: $crate::store::shared::to_u64(swept_blobs),
                    },
                })
            }
        }

        impl $store {
            /// What every app's writes have given up in all: bytes, blobs.
            async fn garbage_counted_by_apps(
                &self,
            ) -> Result<(i64, i64), $crate::store::StoreError> {
                Ok(sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(garbage_bytes), 0) AS BIGINT), \
                     CAST(COALESCE(SUM(garbage_blobs), 0) AS BIGINT) FROM apps",
                )
                .fetch_one(self.pool())
                .await?)
            }
        }

        /// The reads a write and the manifest share.
        impl $store {
            async fn app_row(
                transaction: &mut sqlx::Transaction<'static, $db>,
                app_id: &sync_protocol::AppId,
                lock: &str,
            ) -> Result<$crate::store::write_plan::AppRow, $crate::store::StoreError> {
                Ok(Self::found_app_row(transaction, app_id, lock)
                    .await?
                    .unwrap_or_default())
            }

            /// The app's row, `None` before its first write.
            async fn found_app_row(
                transaction: &mut sqlx::Transaction<'static, $db>,
                app_id: &sync_protocol::AppId,
                lock: &str,
            ) -> Result<Option<$crate::store::write_plan::AppRow>, $crate::store::StoreError> {
                let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(&format!(
                    "SELECT revision, file_count, total_bytes, history_floor FROM apps \
                     WHERE app_id = $1{lock}"
                ))
                .bind(app_id.as_str())
                .fetch_optional(&mut **transaction)
                .await?;
                Ok(row.map(
                    |(revision, files, bytes, floor)| $crate::store::write_plan::AppRow {
                        revision: $crate::store::shared::to_u64(revision),
                        usage: $crate::store::AppUsage {
                            file_count: $crate::store::shared::to_u64(files),
                            total_bytes: $crate::store::shared::to_u64(bytes),
                        },
                        history_floor: $crate::store::shared::to_u64(floor),
                    },
                ))
            }

            /// The stored content of those of `paths` the app holds.
            async fn stored_files(
                transaction: &mut sqlx::Transaction<'static, $db>,
                app_id: &sync_protocol::AppId,
                paths: &[&str],
            ) -> Result<
                std::collections::HashMap<String, $crate::store::write_plan::StoredFile>,
                $crate::store::StoreError,
            > {
                let mut stored = std::collections::HashMap::new();
                for chunk in paths.chunks($crate::store::shared::PATHS_PER_QUERY) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT path, sha256, size FROM files WHERE app_id = ",
                    );
                    query.push_bind(app_id.as_str()).push(" AND path IN (");
                    let mut separated = query.separated(", ");
                    for path in chunk {
                        separated.push_bind(*path);
                    }
                    query.push(")");
                    let rows: Vec<(String, String, i64)> =
                        query.build_query_as().fetch_all(&mut **transaction).await?;
                    stored.extend(rows.into_iter().map(|(path, sha256, size)| {
                        (
                            path,
                            $crate::store::write_plan::StoredFile {
                                sha256,
                                size: $crate::store::shared::to_u64(size),
                            },
                        )
                    }));
                }
                Ok(stored)
            }

            /// For each of `paths` that has stored files beneath it, the
            /// first `limit` of them in byte order. One query per chunk finds
            /// the paths with anything beneath (rare); one more each reads those.
            async fn stored_beneath(
                transaction: &mut sqlx::Transaction<'static, $db>,
                app_id: &sync_protocol::AppId,
                paths: &[&str],
                limit: u64,
            ) -> Result<std::collections::HashMap<String, Vec<String>>, $crate::store::StoreError>
            {
                use $crate::store::write_plan::beneath_bounds;
                let order = Self::BYTE_ORDER;
                let mut found = Vec::new();
                for chunk in paths.chunks($crate::store::shared::PATHS_PER_QUERY / 2) {
                    let mut query =
                        sqlx::QueryBuilder::<$db>::new("SELECT c.column1 FROM (VALUES ");
                    let mut separated = query.separated(", ");
                    for path in chunk {
                        let (low, high) = beneath_bounds(path);
                        separated.push("(");
                        separated.push_bind_unseparated(low);
                        separated.push_unseparated(", ");
                        separated.push_bind_unseparated(high);
                        separated.push_unseparated(")");
                    }
                    query.push(") AS c WHERE EXISTS (SELECT 1 FROM files f WHERE f.app_id = ");
                    query.push_bind(app_id.as_str());
                    query.push(format!(
                        " AND f.path{order} > c.column1 AND f.path{order} < c.column2)"
                    ));
                    let lows: Vec<(String,)> =
                        query.build_query_as().fetch_all(&mut **transaction).await?;
                    found.extend(lows.into_iter().map(|(low,)| low));
                }
                let mut beneath = std::collections::HashMap::new();
                for low in found {
                    let path = low.strip_suffix('/').unwrap_or(&low).to_owned();
                    let (low, high) = beneath_bounds(&path);
                    let paths: Vec<String> = sqlx::query_scalar(&format!(
                        "SELECT path FROM files WHERE app_id = $1 AND path{order} > $2 \
                         AND path{order} < $3 ORDER BY path{order} LIMIT $4"
                    ))
                    .bind(app_id.as_str())
                    .bind(low)
                    .bind(high)
                    .bind($crate::store::shared::to_i64(limit))
                    .fetch_all(&mut **transaction)
                    .await?;
                    beneath.insert(path, paths);
                }
                Ok(beneath)
            }

            /// The app's files changed after revision `since` (all of them for 0), by path in byte order.
            async fn file_entries(
                transaction: &mut sqlx::Transaction<'static, $db>,
                app_id: &sync_protocol::AppId,
                since: u64,
            ) -> Result<Vec<sync_protocol::FileEntry>, $crate::store::StoreError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(&format!(
                    "SELECT path, sha256, size FROM files WHERE app_id = $1 AND revision > $2 \
                     ORDER BY path{}",
                    Self::BYTE_ORDER
                ))
                .bind(app_id.as_str())
                .bind($crate::store::shared::to_i64(since))
                .fetch_all(&mut **transaction)
                .await?;
                rows.into_iter()
                    .map(|(path, sha256, size)| {
                        Ok(sync_protocol::FileEntry {
                            path: $crate::store::shared::stored_path(path)?,
                            sha256,
                            size: $crate::store::shared::to_u64(size),
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use file_store;
