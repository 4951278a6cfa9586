//! `StoreHealth` in the SQL both dialects accept: the identity row of
//! migration 0006 and sqlx's own record of the migrations applied.

/// Implements `StoreHealth` for `$store`, whose migrations are `$migrator`.
macro_rules! store_health {
    ($store:ty, $migrator:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::StoreHealth for $store {
            async fn identity(&self) -> Result<String, $crate::store::StoreError> {
                let identity: String =
                    sqlx::query_scalar("SELECT identity FROM store_identity WHERE singleton = 1")
                        .fetch_one(self.pool())
                        .await?;
                Ok(identity)
            }

            async fn readiness(&self) -> Result<(), $crate::store::StoreError> {
                let applied: Vec<i64> = sqlx::query_scalar(
                    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                )
                .fetch_all(self.pool())
                .await?;
                let missing: Vec<String> = $migrator
                    .iter()
                    .filter(|migration| !applied.contains(&migration.version))
                    .map(|migration| format!("{:04}", migration.version))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err($crate::store::StoreError::corrupt(format!(
                        "migrations not applied: {}",
                        missing.join(", ")
                    )))
                }
            }
        }
    };
}

pub(crate) use store_health;
