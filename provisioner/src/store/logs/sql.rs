//! `LogStore` in the SQL both dialects accept. The head row of an app
//! numbers its lines: the append's upsert takes the row's lock (SQLite's
//! write lock, PostgreSQL's row lock), so two instances appending to one app
//! get consecutive, distinct cursors.

/// Lines per `INSERT`: five bound values each, far below either database's limit.
pub(crate) const ROWS_PER_INSERT: usize = 200;

/// Implements `LogStore` for `$store`, whose pool holds `$db` connections.
macro_rules! log_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::logs::LogStore for $store {
            async fn append_logs(
                &self,
                app_id: &sync_protocol::AppId,
                lines: &[sync_protocol::logs::ShippedLine],
            ) -> Result<u64, $crate::store::StoreError> {
                use $crate::store::shared::{to_i64, to_u64};
                let count = to_i64(lines.len() as u64);
                let mut transaction = self.begin_write().await?;
                let (last, trimmed_to): (i64, i64) = sqlx::query_as(
                    "INSERT INTO app_log_heads (app_id, last_seq, trimmed_to) VALUES ($1, $2, 0) \
                     ON CONFLICT (app_id) DO UPDATE SET last_seq = app_log_heads.last_seq + $2 \
                     RETURNING last_seq, trimmed_to",
                )
                .bind(app_id.as_str())
                .bind(count)
                .fetch_one(&mut *transaction)
                .await?;
                let mut seq = last - count;
                for chunk in lines.chunks($crate::store::logs::ROWS_PER_INSERT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO app_logs (app_id, seq, at_ms, source, text) ",
                    );
                    query.push_values(chunk, |mut row, line| {
                        seq += 1;
                        row.push_bind(app_id.as_str())
                            .push_bind(seq)
                            .push_bind(to_i64(line.at_ms))
                            .push_bind(line.source.as_str())
                            .push_bind(line.text.as_str());
                    });
                    query.build().execute(&mut *transaction).await?;
                }
                // The first page of the trim goes with the append (one commit,
                // one fsync, for a steady flood); any further page is a short
                // write of its own.
                let (last, trimmed_to) = (to_u64(last), to_u64(trimmed_to));
                let mut transaction = Some(transaction);
                for (low, high) in $crate::store::logs::trim_pages(last, trimmed_to) {
                    let mut write = match transaction.take() {
                        Some(open) => open,
                        None => self.begin_write().await?,
                    };
                    sqlx::query("DELETE FROM app_logs WHERE app_id = $1 AND seq > $2 AND seq <= $3")
                        .bind(app_id.as_str())
                        .bind(to_i64(low))
                        .bind(to_i64(high))
                        .execute(&mut *write)
                        .await?;
                    sqlx::query(
                        "UPDATE app_log_heads SET trimmed_to = $2 WHERE app_id = $1 AND trimmed_to < $2",
                    )
                    .bind(app_id.as_str())
                    .bind(to_i64(high))
                    .execute(&mut *write)
                    .await?;
                    write.commit().await?;
                }
                if let Some(transaction) = transaction {
                    transaction.commit().await?;
                }
                Ok(last)
            }

            async fn logs_since(
                &self,
                app_id: &sync_protocol::AppId,
                since: u64,
                limit: usize,
            ) -> Result<Vec<$crate::store::logs::LogEntry>, $crate::store::StoreError> {
                use $crate::store::shared::{to_i64, to_u64};
                let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
                    "SELECT seq, at_ms, source, text FROM app_logs \
                     WHERE app_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(app_id.as_str())
                .bind(to_i64(since))
                .bind(to_i64(limit as u64))
                .fetch_all(self.pool())
                .await?;
                rows.into_iter()
                    .map(|(seq, at_ms, source, text)| {
                        let source = sync_protocol::logs::LogSource::parse(&source).ok_or_else(|| {
                            $crate::store::StoreError::corrupt(format!("stored log source {source:?}"))
                        })?;
                        Ok($crate::store::logs::LogEntry {
                            cursor: to_u64(seq),
                            line: sync_protocol::logs::ShippedLine {
                                at_ms: to_u64(at_ms),
                                source,
                                text,
                            },
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use log_store;
