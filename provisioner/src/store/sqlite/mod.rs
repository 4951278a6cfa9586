//! The embedded default backend: one SQLite file under `--data-dir`.
//!
//! Durability: WAL with `synchronous = FULL` makes every commit fsync the
//! log before it returns, so a write acknowledged with a 2xx survives a crash
//! or a power cut. Writes open their transaction with `BEGIN IMMEDIATE`: a
//! deferred transaction that later upgrades to a write lock can fail with
//! `SQLITE_BUSY` straight away, while an immediate one waits `busy_timeout`.
//!
//! Write transactions take turns on one connection of their own, handed out
//! first come, first served: SQLite has one write lock for the whole file, and
//! connections that wait for it in `busy_timeout` poll with sleeps of up to
//! 100 ms and in no order, so a small write behind a large batch could wait
//! several batches and a sleep. In turn, it waits for the writes ahead of it.
//! Checkpoints run off that connection. SQLite's automatic checkpoint runs
//! inside the commit that takes the log past its limit, and once past it in
//! every commit after, until the log starts over: each copies what the log
//! gained and fsyncs the database file (30–40 ms on the bench's disk, with
//! every write queued behind it waiting). A task of the store's own copies
//! the log back on a reading connection a few times a second (`PRAGMA
//! wal_checkpoint(PASSIVE)`, which never blocks a writer). That alone never
//! lets the log start over under a steady stream of writes: SQLite restarts
//! the log only when a write begins with all of it copied. So once the log
//! is longer than [`checkpoint::RESTART_LOG_PAGES`], the task takes the write
//! connection's turn for one more passive checkpoint: with no write between,
//! it copies the last few frames, and the next write starts the log over.
//! The write connection's own checkpoint stays only as a backstop, at a
//! limit the task keeps the log below.

mod checkpoint;
mod turns;
mod write;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool, Transaction};

use self::turns::WriteTurns;
use super::shared;

/// The migrations this build applies, and `/readyz` checks.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The file name of the database inside the data dir.
const DATABASE_FILE: &str = "provisioner.sqlite3";

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection: write transactions queue for it in order.
    writer: WriteTurns,
    /// The checkpoint task ends once every clone of the store is gone.
    _alive: Arc<()>,
}

/// The write connection's page cache, in KiB (SQLite's negative form):
/// a batch of a thousand files dirties thousands of pages of the files'
/// and blobs' B-trees, which SQLite's default of 2 MiB spills to the log
/// and reads back while the write lock is held. Readers keep the default.
const WRITER_CACHE_SIZE: &str = "-65536";

/// How much of the database file the readers map instead of reading it
/// page by page (SQLite's default is none): a blob batch read 100 MB through
/// 25,000 `pread` calls, each page copied into the connection's cache. The
/// mapping is the page cache's own memory, shared by every connection.
const READER_MMAP_BYTES: &str = "1073741824";

/// The log's length in pages at which a commit on the write connection
/// checkpoints itself (SQLite's default is 1,000): a backstop for when the
/// checkpoint task cannot keep up, four times [`checkpoint::RESTART_LOG_PAGES`].
const WRITER_CHECKPOINT_PAGES: &str = "16384";

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and runs the migrations.
    pub async fn open(data_dir: &Path) -> anyhow::Result<SqliteStore> {
        let path = data_dir.join(DATABASE_FILE);
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(&path)
            .create_if_missing(true)
            // Set before the first table exists, it takes effect in a new
            // database; an older one is converted once below.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone().pragma("mmap_size", READER_MMAP_BYTES))
            .await
            .with_context(|| format!("failed to open the database `{}`", path.display()))?;
        restrict_to_owner(&path)?;
        vacuum_incrementally(&pool, &path).await?;
        MIGRATOR
            .run(&pool)
            .await
            .with_context(|| format!("failed to migrate the database `{}`", path.display()))?;
        let writer = WriteTurns::connect(
            options
                .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
                .pragma("cache_size", WRITER_CACHE_SIZE),
        )
        .await
        .with_context(|| format!("failed to open the database `{}`", path.display()))?;
        let alive = Arc::new(());
        tokio::spawn(checkpoint::periodically(
            pool.clone(),
            writer.clone(),
            Arc::downgrade(&alive),
        ));
        Ok(SqliteStore {
            pool,
            writer,
            _alive: alive,
        })
    }

    /// The connection pool, for the shared statements.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Starts a write transaction that holds the database's write lock from its first statement.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin().await
    }

    /// The write connection's turns.
    pub(crate) fn writer(&self) -> &WriteTurns {
        &self.writer
    }

    /// A read transaction: SQLite's WAL gives it one snapshot throughout.
    pub(crate) async fn begin_snapshot(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin().await
    }

    /// The write transaction already holds the whole file.
    pub(crate) const LOCK_APP_ROW: &str = "";
    /// SQLite compares text byte by byte already.
    pub(crate) const BYTE_ORDER: &str = "";
    pub(crate) const GREATEST: &str = "max";

    /// Waits for the pool's connections to close, so the last commits are checkpointed.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// Makes a database created before `auto_vacuum = INCREMENTAL` use it:
/// the setting only takes effect through one `VACUUM`, which rewrites the
/// whole file and holds the write lock throughout. It runs here, once,
/// before the store serves anything, so no request waits on it; it takes
/// about as long as copying the file, and needs that much free space.
async fn vacuum_incrementally(pool: &SqlitePool, path: &Path) -> anyhow::Result<()> {
    /// `PRAGMA auto_vacuum`'s answer for INCREMENTAL.
    const INCREMENTAL: i64 = 2;
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(pool)
        .await?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    let started = std::time::Instant::now();
    tracing::info!(
        database = %path.display(),
        "converting the database to incremental vacuum (once; as long as copying the file)"
    );
    let mut connection = pool.acquire().await?;
    sqlx::query("PRAGMA auto_vacuum = INCREMENTAL")
        .execute(&mut *connection)
        .await?;
    sqlx::query("VACUUM")
        .execute(&mut *connection)
        .await
        .with_context(|| format!("failed to vacuum the database `{}`", path.display()))?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis(),
        "the database vacuums incrementally"
    );
    Ok(())
}

/// The database holds every app's files and the token digests: readable by
/// the owner only. SQLite gives the `-wal` and `-shm` files the database's mode.
fn restrict_to_owner(database: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        let path = Path::new(&name);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("failed to restrict `{}` to its owner", path.display()))?;
        }
    }
    Ok(())
}

shared::files::file_store!(SqliteStore, Sqlite);
shared::blobs::blob_stream!(SqliteStore, Sqlite);
shared::tokens::token_store!(SqliteStore);
shared::settings::settings_store!(SqliteStore);
shared::imports::import_store!(SqliteStore);
shared::previews::preview_store!(SqliteStore, Sqlite);
shared::health::store_health!(SqliteStore, MIGRATOR);
super::logs::control_store!(SqliteStore);
super::logs::log_store!(SqliteStore, Sqlite);

#[cfg(test)]
mod tests;
