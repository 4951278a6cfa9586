//! The daemon's reading of a manifest or delta answer (`decode_manifest`)
//! on arbitrary bytes: it never panics, and every entry it keeps has a path
//! that passes the path rules and a well-formed sha256; the rest are refused
//! one by one, none dropped silently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_daemon::client::decode_manifest;
use sync_protocol::{FilePath, is_sha256_hex};

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = decode_manifest(data, None) else {
        return;
    };
    for entry in &manifest.files {
        assert_eq!(
            FilePath::parse(entry.path.as_str()).ok().as_ref(),
            Some(&entry.path)
        );
        assert!(is_sha256_hex(&entry.sha256), "{:?}", entry.sha256);
    }
    for path in &manifest.deleted {
        assert!(FilePath::parse(path.as_str()).is_ok());
    }
    // Kept and refused entries account for every entry the body listed.
    let listed = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|body| {
            body.get("files")
                .and_then(|files| files.as_array().map(Vec::len))
        });
    if let Some(listed) = listed {
        assert_eq!(manifest.files.len() + manifest.refused.len(), listed);
    }
});
