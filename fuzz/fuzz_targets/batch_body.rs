//! The files route's batch body (`POST /v1/apps/{app}/files`) on arbitrary
//! bytes, read as the route reads it: the JSON into `BatchRequest`, then
//! `parse_changes`. It never panics, and a batch it accepts names each path
//! once, every path passes the path rules, and no content is over the limit.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use provisioner::files::{Limits, SweepPolicy, parse_changes};
use provisioner::store::AppLimits;
use sync_protocol::{BatchRequest, FilePath};

const MAX_FILE_BYTES: u64 = 64;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<BatchRequest>(data) else {
        return;
    };
    let limits = Limits {
        max_file_bytes: MAX_FILE_BYTES,
        app: AppLimits {
            max_files_per_app: 20_000,
            max_bytes_per_app: 1 << 20,
            history_revisions: 100,
        },
        sweep: SweepPolicy {
            garbage_bytes: 1 << 20,
            garbage_blobs: 1_000,
        },
    };
    let asked = request.changes.len();
    let Ok(changes) = parse_changes(request.changes, &limits) else {
        return;
    };
    assert_eq!(changes.len(), asked);
    let mut paths = HashSet::new();
    for change in &changes {
        assert!(
            paths.insert(change.path.as_str()),
            "{:?} twice",
            change.path
        );
        assert_eq!(
            FilePath::parse(change.path.as_str()).as_ref(),
            Ok(&change.path)
        );
        if let Some(blob) = &change.content {
            assert!(blob.bytes.len() as u64 <= MAX_FILE_BYTES);
            assert_eq!(blob.sha256, sync_protocol::sha256_hex(&blob.bytes));
        }
    }
});
