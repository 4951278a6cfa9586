//! Whose turn it is on the write connection.
//!
//! Writes that answer a request take turns first come, first served
//! ([`WriteTurns::begin`]). Background work (the sweep's pages, the
//! vacuum's steps, the checkpoint task's turn) takes the connection only
//! when it is free and no write is waiting for it ([`WriteTurns::when_idle`],
//! [`LogRestart::turn`]): a write then waits at most for the one
//! background step already running, never for one that queued ahead of it.
//! Background work that finds no free moment for [`MAX_WAIT_FOR_IDLE`]
//! queues like a write, so a sweep always ends. Among background work, the
//! checkpoint task's turn to let the log start over
//! ([`WriteTurns::wait_for_log_restart`]) goes first: a sweep's pages would
//! otherwise take every free moment, and the log would grow to the write
//! connection's own checkpoint, which stalls every write behind it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Sqlite, SqlitePool, Transaction};

/// How long background work waits for a free moment before it queues.
const MAX_WAIT_FOR_IDLE: Duration = Duration::from_millis(500);

/// How often background work looks for a free moment.
const IDLE_POLL: Duration = Duration::from_millis(1);

/// The write connection (a pool of one), how many writes wait for it, and
/// how many turns on it have ended.
#[derive(Clone, Debug)]
pub(crate) struct WriteTurns {
    pool: SqlitePool,
    waiting: Arc<AtomicUsize>,
    ended: Arc<AtomicU64>,
    log_restart_waiting: Arc<AtomicBool>,
}

/// The checkpoint task waiting for a free turn; other background work
/// yields to it while this lives.
pub(crate) struct LogRestart<'a>(&'a WriteTurns);

impl LogRestart<'_> {
    /// The connection, now, if it is free and no write waits for it.
    pub(crate) fn turn(&self) -> Option<PoolConnection<Sqlite>> {
        self.0.free_of_writes()
    }

    /// The connection in turn, behind the writes already waiting.
    pub(crate) async fn turn_in_line(&self) -> Result<PoolConnection<Sqlite>, sqlx::Error> {
        self.0.in_line().await
    }
}

impl Drop for LogRestart<'_> {
    fn drop(&mut self) {
        self.0.log_restart_waiting.store(false, Ordering::SeqCst);
    }
}

/// Counts one write as waiting while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl WriteTurns {
    /// Opens the write connection with `options`.
    pub(crate) async fn connect(options: SqliteConnectOptions) -> Result<WriteTurns, sqlx::Error> {
        let ended = Arc::new(AtomicU64::new(0));
        let counter = ended.clone();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .after_release(move |_connection, _| {
                counter.fetch_add(1, Ordering::SeqCst);
                Box::pin(async { Ok(true) })
            })
            // Holding its connection for a whole write is the point.
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options)
            .await?;
        Ok(WriteTurns {
            pool,
            waiting: Arc::new(AtomicUsize::new(0)),
            ended,
            log_restart_waiting: Arc::new(AtomicBool::new(false)),
        })
    }

    /// How many turns have ended so far: unchanged over a span in which the
    /// connection was never free means no write committed in it.
    pub(crate) fn ended(&self) -> u64 {
        self.ended.load(Ordering::SeqCst)
    }

    /// A write transaction in its turn, holding the write lock from its
    /// first statement.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        let _waiting = Waiting::new(&self.waiting);
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// The connection, now, if it is free and no write waits for it.
    fn free_of_writes(&self) -> Option<PoolConnection<Sqlite>> {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            return None;
        }
        self.pool.try_acquire()
    }

    /// The connection, now, if it is free and neither a write nor the
    /// checkpoint task waits for it.
    fn if_idle(&self) -> Option<PoolConnection<Sqlite>> {
        if self.log_restart_waiting.load(Ordering::SeqCst) {
            return None;
        }
        self.free_of_writes()
    }

    /// The connection in turn, behind the writes already waiting, counted
    /// as waiting meanwhile.
    async fn in_line(&self) -> Result<PoolConnection<Sqlite>, sqlx::Error> {
        let _waiting = Waiting::new(&self.waiting);
        self.pool.acquire().await
    }

    /// Marks the checkpoint task as waiting for a turn, ahead of other
    /// background work, until the answer is dropped.
    pub(crate) fn wait_for_log_restart(&self) -> LogRestart<'_> {
        self.log_restart_waiting.store(true, Ordering::SeqCst);
        LogRestart(self)
    }

    /// The connection at the first moment it is free and no write waits
    /// for it; after [`MAX_WAIT_FOR_IDLE`], in turn like a write.
    pub(crate) async fn when_idle(&self) -> Result<PoolConnection<Sqlite>, sqlx::Error> {
        let deadline = Instant::now() + MAX_WAIT_FOR_IDLE;
        while Instant::now() < deadline {
            if let Some(connection) = self.if_idle() {
                return Ok(connection);
            }
            tokio::time::sleep(IDLE_POLL).await;
        }
        self.in_line().await
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}
