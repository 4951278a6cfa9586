//! The store contract as tests, written once: each `pub async fn` here takes
//! two handles on one fresh store (as two instances hold them; the same
//! store twice for a backend that has one process) and panics when the
//! store breaks the contract. Every backend's tests call all of them through
//! [`store_conformance_tests!`](crate::store_conformance_tests): SQLite and
//! the in-memory store in the unit tests, PostgreSQL in `tests/it`.
//! Backend-specific tests cover only what is truly specific (a reopened
//! file, cross-instance wake-ups, locking).

mod blobs;
mod coordination;
mod files;
mod garbage;
mod logs;
mod outcome;
mod records;
mod tree;

use bytes::Bytes;
use sync_protocol::{AppId, FilePath};

pub use blobs::*;
pub use coordination::*;
pub use files::*;
pub use garbage::*;
pub use logs::*;
pub use outcome::*;
pub use records::*;
pub use tree::*;

use super::logs::ControlStore;
use super::previews::PreviewStore;
use super::settings::AppSettingsStore;
use super::{
    AppLimits, Blob, Changes, FileChange, FileStore, LogStore, StoreHealth, SyncTokenStore,
};

/// Every store trait at once, as a backend implements them.
pub trait Store:
    FileStore
    + SyncTokenStore
    + PreviewStore
    + AppSettingsStore
    + StoreHealth
    + LogStore
    + ControlStore
    + super::ImportStore
{
}

impl<S> Store for S where
    S: FileStore
        + SyncTokenStore
        + PreviewStore
        + AppSettingsStore
        + StoreHealth
        + LogStore
        + ControlStore
        + super::ImportStore
{
}

/// One `#[tokio::test]` per conformance function. `$handles` is an
/// expression (it may `.await`) giving `(keep_alive, first, second)`: two
/// handles on one fresh store, and whatever must live as long as they do.
#[macro_export]
macro_rules! store_conformance_tests {
    ($handles:expr) => {
        $crate::store_conformance_tests!(@each $handles;
            each_write_is_one_revision_and_a_no_op_keeps_it,
            a_refused_write_applies_nothing,
            a_file_and_a_directory_of_the_same_name_are_refused,
            deltas_carry_changes_and_deletions_after_since,
            a_writes_outcome_is_the_delta_the_store_gives_from_the_revision_before_it,
            writes_through_one_handle_are_revisions_and_deltas_through_the_other,
            since_older_than_the_history_kept_gets_the_full_manifest,
            limits_count_the_whole_write_and_blobs_stay_with_their_apps,
            blobs_are_shared_but_read_only_by_apps_that_hold_them,
            a_blob_batch_yields_what_the_app_references_in_ascending_order,
            a_blob_reader_that_stops_midway_holds_nothing_back,
            replaced_content_is_collected_once_unreferenced,
            the_sweep_pages_through_many_blobs_and_removes_only_garbage,
            garbage_is_counted_by_writes_and_settled_by_the_sweep,
            tokens_and_status_written_through_one_handle_are_read_through_the_other,
            previews_round_trip_and_activity_only_moves_forward,
            the_identity_is_one_per_store_and_a_fresh_store_is_ready,
            log_lines_appended_through_one_handle_are_read_in_order_through_the_other,
            the_log_keeps_the_newest_lines_of_each_app_and_trims_the_rest,
            controls_are_numbered_per_app_and_the_newest_is_read_through_either_handle,
            settings_saved_through_one_handle_are_read_through_the_other_and_a_stale_save_is_refused,
            an_import_saved_through_one_handle_is_read_whole_through_the_other,
        );
    };
    (@each $handles:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_keep_alive, first, second) = $handles;
                $crate::store::conformance::$name(&first, &second).await;
            }
        )*
    };
}

pub(crate) const LIMITS: AppLimits = AppLimits {
    max_files_per_app: 100,
    max_bytes_per_app: 1_000_000,
    history_revisions: 1000,
};

pub(crate) fn app(name: &str) -> AppId {
    AppId::parse(name).unwrap()
}

pub(crate) fn path(text: &str) -> FilePath {
    FilePath::parse(text).unwrap()
}

pub(crate) fn put(text: &str, content: &str) -> FileChange {
    let bytes = Bytes::from(content.to_owned());
    FileChange {
        path: path(text),
        content: Some(Blob {
            sha256: sync_protocol::sha256_hex(&bytes),
            bytes,
        }),
    }
}

pub(crate) fn delete(text: &str) -> FileChange {
    FileChange {
        path: path(text),
        content: None,
    }
}

/// The changed and deleted paths of an answer, as text.
pub(crate) fn paths_of(changes: &Changes) -> (Vec<String>, Vec<String>) {
    match changes {
        Changes::Full(manifest) => (
            manifest
                .files
                .iter()
                .map(|file| file.path.to_string())
                .collect(),
            Vec::new(),
        ),
        Changes::Delta { files, deleted, .. } => (
            files.iter().map(|file| file.path.to_string()).collect(),
            deleted.iter().map(ToString::to_string).collect(),
        ),
    }
}
