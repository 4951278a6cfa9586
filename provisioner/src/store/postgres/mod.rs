//! The backend for several provisioner instances: one PostgreSQL database
//! that every instance shares (`--database-url`).
//!
//! It has the SQLite backend's semantics, table for table. What differs is
//! how writers serialize: SQLite has one writer at a time per file, while
//! here a write locks its app's row (`SELECT ... FOR UPDATE`), so writes to
//! one app serialize across instances and writes to different apps run side
//! by side. Each write also sends `NOTIFY files_revision '<appId> <revision>'`
//! inside its transaction; PostgreSQL delivers it on commit only, and every
//! instance's listener (`listen`) turns it into a long-poll wake-up.

mod coordination;
mod listen;
mod write;

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::shared;
use crate::files::RevisionNotifier;
pub use coordination::PostgresCoordination;

/// The migrations this build applies, and `/readyz` checks.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per instance. Writes hold one for a few statements and
/// long-polls hold none while they wait, so a handful serves many requests;
/// several instances must also fit under the server's `max_connections`.
const MAX_CONNECTIONS: u32 = 8;

/// Connections per instance for advisory locks, apart from `MAX_CONNECTIONS`:
/// one per app with an operation running here, and one per task lease held.
const LOCK_CONNECTIONS: u32 = 16;

/// How long a request waits for a free connection before it is answered busy.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// The connections that hold advisory locks.
    locks: PgPool,
    /// One per store, so every caller in this instance shares its in-process layer.
    coordination: PostgresCoordination,
    /// Kept for the listener, which opens its own connection.
    options: Arc<PgConnectOptions>,
    /// The listener task, when `listen` started one: `close` stops it first.
    listener: Arc<Mutex<Option<Listening>>>,
}

#[derive(Debug)]
struct Listening {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl PostgresStore {
    /// Connects to `url` and runs the migrations. Instances starting at once
    /// are safe: sqlx takes an advisory lock around the migrations.
    pub async fn open(url: &str) -> anyhow::Result<PostgresStore> {
        let options = PgConnectOptions::from_str(url)
            .context("the database URL is not a valid PostgreSQL URL")?
            .application_name("provisioner");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .with_context(|| {
                format!(
                    "failed to connect to PostgreSQL at {}:{} (database {:?})",
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or_default()
                )
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .context("failed to migrate the PostgreSQL database")?;
        let locks = PgPoolOptions::new()
            .max_connections(LOCK_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone().application_name(LOCKS_APPLICATION));
        Ok(PostgresStore {
            pool,
            coordination: PostgresCoordination::new(locks.clone()),
            locks,
            options: Arc::new(options),
            listener: Arc::default(),
        })
    }

    /// Starts feeding other instances' writes to `notifier`, so long-polls
    /// here wake when another instance writes. Calling it again replaces the
    /// previous listener.
    pub fn listen(&self, notifier: RevisionNotifier) {
        let stop = CancellationToken::new();
        let listen_options =
            PgConnectOptions::clone(&self.options).application_name(LISTENER_APPLICATION);
        let task = tokio::spawn(listen::run(
            self.clone(),
            listen_options,
            notifier,
            stop.clone(),
        ));
        let previous = self
            .listener
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .replace(Listening { stop, task });
        if let Some(previous) = previous {
            previous.stop.cancel();
        }
    }

    /// One operation per app and one holder per task lease, across every
    /// instance on this database.
    pub fn coordination(&self) -> PostgresCoordination {
        self.coordination.clone()
    }

    /// The connection pool, for the shared statements.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A write takes its row locks as it goes (see `LOCK_APP_ROW`).
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Repeatable read: the revision and the rows are one snapshot even
    /// while another instance commits in between two queries.
    pub(crate) async fn begin_snapshot(
        &self,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
    }

    /// Writes to one app take turns across instances; other apps' run beside them.
    pub(crate) const LOCK_APP_ROW: &str = " FOR UPDATE";
    /// Byte order, as SQLite sorts, whatever the database's collation.
    pub(crate) const BYTE_ORDER: &str = " COLLATE \"C\"";
    pub(crate) const GREATEST: &str = "GREATEST";

    /// Stops the listener and waits for the pool's connections to close.
    pub async fn close(&self) {
        let listening = self
            .listener
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        if let Some(listening) = listening {
            listening.stop.cancel();
            let _ = listening.task.await;
        }
        self.pool.close().await;
        self.locks.close().await;
    }
}

/// The `application_name` of each instance's lock connections.
pub const LOCKS_APPLICATION: &str = "provisioner-locks";

/// The `application_name` of each instance's listening connection, so an
/// operator (or a test) can find it in `pg_stat_activity`.
pub const LISTENER_APPLICATION: &str = "provisioner-listen";

/// The channel every write notifies on; its payload is `<appId> <revision>`.
pub(crate) const REVISION_CHANNEL: &str = "files_revision";

shared::files::file_store!(PostgresStore, Postgres);
shared::blobs::blob_stream!(PostgresStore, Postgres);
shared::tokens::token_store!(PostgresStore);
shared::settings::settings_store!(PostgresStore);
shared::imports::import_store!(PostgresStore);
shared::previews::preview_store!(PostgresStore, Postgres);
shared::health::store_health!(PostgresStore, MIGRATOR);
super::logs::control_store!(PostgresStore);
super::logs::log_store!(PostgresStore, Postgres);
