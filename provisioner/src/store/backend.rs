//! The store `serve` opens: SQLite under the data dir by default, or the
//! PostgreSQL database named by `--database-url`, which several instances
//! can share. Everything past this point holds the store traits only, each
//! store wrapped so its writes run to completion.

use std::sync::Arc;

use super::coordination::{Coordination, LocalCoordination};
use super::previews::PreviewStore;
use super::settings::AppSettingsStore;
use super::{FileStore, PostgresStore, RunsToCompletion, SqliteStore, StoreHealth, SyncTokenStore};
use crate::config::ServeArgs;
use crate::files::RevisionNotifier;

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Backend {
    /// PostgreSQL when a database URL is configured, else SQLite in the data dir.
    pub async fn open(args: &ServeArgs) -> anyhow::Result<Backend> {
        match args.store.database_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Ok(Backend::Postgres(PostgresStore::open(url).await?)),
            _ => Ok(Backend::Sqlite(
                SqliteStore::open(&args.store.data_dir).await?,
            )),
        }
    }

    pub fn files(&self) -> Arc<dyn FileStore> {
        match self {
            Backend::Sqlite(store) => Arc::new(RunsToCompletion(store.clone())),
            Backend::Postgres(store) => Arc::new(RunsToCompletion(store.clone())),
        }
    }

    pub fn sync_tokens(&self) -> Arc<dyn SyncTokenStore> {
        match self {
            Backend::Sqlite(store) => Arc::new(RunsToCompletion(store.clone())),
            Backend::Postgres(store) => Arc::new(RunsToCompletion(store.clone())),
        }
    }

    pub fn previews(&self) -> Arc<dyn PreviewStore> {
        match self {
            Backend::Sqlite(store) => Arc::new(RunsToCompletion(store.clone())),
            Backend::Postgres(store) => Arc::new(RunsToCompletion(store.clone())),
        }
    }

    pub fn logs(&self) -> Arc<dyn super::LogStore> {
        match self {
            Backend::Sqlite(store) => Arc::new(RunsToCompletion(store.clone())),
            Backend::Postgres(store) => Arc::new(RunsToCompletion(store.clone())),
        }
    }

    pub fn controls(&self) -> Arc<dyn super::logs::ControlStore> {
        match self {
            Backend::Sqlite(store) => Arc::new(RunsToCompletion(store.clone())),
            Backend::Postgres(store) => Arc::new(RunsToCompletion(store.clone())),
        }
    }

    pub fn imports(&self) -> Arc<dyn super::ImportStore> {
        match self {
            Backend::Sqlite(store) => Arc::new(RunsToCompletion(store.clone())),
            Backend::Postgres(store) => Arc::new(RunsToCompletion(store.clone())),
        }
    }

    pub fn settings(&self) -> Arc<dyn AppSettingsStore> {
        match self {
            Backend::Sqlite(store) => Arc::new(RunsToCompletion(store.clone())),
            Backend::Postgres(store) => Arc::new(RunsToCompletion(store.clone())),
        }
    }

    /// Advisory locks on PostgreSQL; in-process locks for the one SQLite instance.
    pub fn coordination(&self) -> Arc<dyn Coordination> {
        match self {
            Backend::Sqlite(_) => Arc::new(LocalCoordination::default()),
            Backend::Postgres(store) => Arc::new(store.coordination()),
        }
    }

    /// Reads only: nothing to run to completion.
    pub fn health(&self) -> Arc<dyn StoreHealth> {
        match self {
            Backend::Sqlite(store) => Arc::new(store.clone()),
            Backend::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// Wakes `notifier`'s waiters on writes made by other instances. SQLite
    /// has none: one process owns the file and publishes its own writes.
    pub fn listen(&self, notifier: &RevisionNotifier) {
        if let Backend::Postgres(store) = self {
            store.listen(notifier.clone());
        }
    }

    pub async fn close(&self) {
        match self {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
        }
    }
}
