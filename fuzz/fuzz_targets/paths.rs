//! The path rules (`FilePath::parse`, `AppId::parse`) on arbitrary strings:
//! they never panic, and whatever they accept stays inside the tree it is
//! joined to, parses again to itself, and keeps the documented bounds.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use sync_protocol::{AppId, FilePath, MAX_PATH_BYTES, MAX_SEGMENT_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = FilePath::parse(text) {
        assert_eq!(path.as_str(), text);
        assert!(text.len() <= MAX_PATH_BYTES);
        assert_eq!(FilePath::parse(path.as_str()).ok(), Some(path.clone()));
        for segment in path.segments() {
            assert!(!segment.is_empty() && segment != "." && segment != "..");
            assert!(segment.len() <= MAX_SEGMENT_BYTES);
        }
        // Joined to a root, it names something under that root, by plain names only.
        let root = Path::new("/srv/app");
        let joined = root.join(path.as_str());
        assert!(joined.starts_with(root), "{text:?} escapes");
        let below = joined.strip_prefix(root).unwrap();
        assert!(
            below
                .components()
                .all(|c| matches!(c, Component::Normal(_))),
            "{text:?}"
        );
    }
    if let Ok(app) = AppId::parse(text) {
        assert_eq!(app.as_str(), text);
        assert!(text.len() <= AppId::MAX_LEN);
        // It becomes a DNS label (`preview-<id>`): letters, digits and inner dashes.
        let label = app.preview_name();
        assert!(label.len() <= 63, "{label:?}");
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{label:?}"
        );
        assert!(!label.ends_with('-'), "{label:?}");
    }
});
