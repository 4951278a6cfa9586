//! The store's checkpoint task: copies the log back into the database file
//! off the write connection, and lets the log start over (the module above
//! says why SQLite's own checkpoint is not left to do it).

use std::sync::Weak;
use std::time::Duration;

use sqlx::SqlitePool;

use super::turns::WriteTurns;

/// How often the log is copied back into the database file.
const CHECKPOINT_PERIOD: Duration = Duration::from_millis(250);

/// The log's length in pages at which the checkpoint task lets it start
/// over (16 MiB of 4 KiB pages).
pub(super) const RESTART_LOG_PAGES: i64 = 4096;

/// Copies the log back into the database file every [`CHECKPOINT_PERIOD`],
/// and lets it start over once it is longer than [`RESTART_LOG_PAGES`],
/// until the store is closed or dropped.
pub(super) async fn periodically(pool: SqlitePool, writer: WriteTurns, store: Weak<()>) {
    let mut ticks = tokio::time::interval(CHECKPOINT_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if store.strong_count() == 0 || pool.is_closed() {
            return;
        }
        if let Err(error) = checkpoint(&pool, &writer).await {
            if pool.is_closed() || writer.is_closed() {
                return;
            }
            tracing::warn!(error.message = %error, "checkpointing the database failed; retried");
        }
    }
}

/// A passive checkpoint; then, if the log is long, more until what is left
/// to copy is short, no write ended during the last one and the write
/// connection is free, and one last in its turn, so that it copies
/// everything and the next write starts the log over. That last one copies
/// only what writes between the two wrote, and none did (none ended, none
/// was running when the turn was taken): the turn lasts a short copy and an
/// fsync, in a moment no write wanted. If writes leave no free moment for
/// [`MAX_PASSES_BEFORE_TURN`] passes, the turn is taken in line like a
/// write's, and copies what the writes ahead of it wrote since the last pass.
async fn checkpoint(pool: &SqlitePool, writer: &WriteTurns) -> Result<(), sqlx::Error> {
    let mut ended = writer.ended();
    let mut log = passive_checkpoint(pool).await?;
    if log.pages < RESTART_LOG_PAGES {
        return Ok(());
    }
    let restart = writer.wait_for_log_restart();
    let mut passes = 1;
    let turn = loop {
        if log.pages - log.copied <= TURN_COPIES_PAGES
            && writer.ended() == ended
            && let Some(turn) = restart.turn()
        {
            break turn;
        }
        if passes == MAX_PASSES_BEFORE_TURN {
            break restart.turn_in_line().await?;
        }
        tokio::time::sleep(BETWEEN_PASSES).await;
        ended = writer.ended();
        log = passive_checkpoint(pool).await?;
        passes += 1;
    };
    let began = std::time::Instant::now();
    let last = passive_checkpoint(pool).await?;
    let held = began.elapsed();
    drop(turn);
    tracing::debug!(
        log_pages = last.pages,
        copied_in_turn = last.pages - log.copied,
        passes,
        held_ms = held.as_millis(),
        "log copied in a write turn, to start over"
    );
    Ok(())
}

/// Frames left to copy at most when the checkpoint task takes the write turn.
const TURN_COPIES_PAGES: i64 = 64;

/// Passive checkpoints at most in one tick while waiting for a free turn.
const MAX_PASSES_BEFORE_TURN: u32 = 50;

/// The rest between passive checkpoints while waiting for a free turn.
const BETWEEN_PASSES: Duration = Duration::from_millis(2);

/// The log's length and how much of it is in the database file, in pages.
struct LogPages {
    pages: i64,
    copied: i64,
}

/// `PRAGMA wal_checkpoint(PASSIVE)` on a reading connection.
async fn passive_checkpoint(pool: &SqlitePool) -> Result<LogPages, sqlx::Error> {
    let (_busy, pages, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    Ok(LogPages { pages, copied })
}
