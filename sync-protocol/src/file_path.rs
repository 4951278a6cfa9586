use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest file path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// The longest segment (file or directory name) accepted, in bytes: what
/// ext4, XFS, btrfs and overlayfs can hold (`NAME_MAX`). A longer name
/// would be saved and then never reach any preview.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Directories the preview owns itself: dependencies and build output are
/// produced inside the machine, so a synced file there would fight with the
/// package manager or the dev server.
const RESERVED_SEGMENTS: &[&str] = &["node_modules", ".next"];

/// A validated path of a synced file: relative, `/`-separated, UTF-8, with no
/// empty, `.` or `..` segment, no backslash, NUL or control character, at most
/// [`MAX_PATH_BYTES`] bytes with segments of at most [`MAX_SEGMENT_BYTES`],
/// and outside the directories the preview owns.
///
/// A `FilePath` can be joined onto a directory without leaving it lexically;
/// the daemon still checks the directories on disk for symlinks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FilePath(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("path must not be empty")]
    Empty,
    #[error("path is {0} bytes long; use at most {MAX_PATH_BYTES}")]
    TooLong(usize),
    #[error("path must be relative; remove the leading '/'")]
    Absolute,
    #[error("path has an empty segment ('//' or a trailing '/'); remove it")]
    EmptySegment,
    #[error(
        "path has a segment of {0} bytes; file and directory names may have at most {MAX_SEGMENT_BYTES} bytes, shorten it"
    )]
    SegmentTooLong(usize),
    #[error("path has a '.' or '..' segment; spell the path without it")]
    DotSegment,
    #[error("path contains a backslash; use '/' between segments")]
    Backslash,
    #[error("path contains NUL or a control character; remove it")]
    ControlCharacter,
    #[error("path is inside {0}/, which the preview manages itself; sync files outside it")]
    Reserved(&'static str),
}

impl FilePath {
    pub fn parse(text: &str) -> Result<FilePath, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        if text.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong(text.len()));
        }
        if text.starts_with('/') {
            return Err(PathError::Absolute);
        }
        if text.contains('\\') {
            return Err(PathError::Backslash);
        }
        if text.chars().any(char::is_control) {
            return Err(PathError::ControlCharacter);
        }
        for segment in text.split('/') {
            match segment {
                "" => return Err(PathError::EmptySegment),
                "." | ".." => return Err(PathError::DotSegment),
                _ => {}
            }
            if segment.len() > MAX_SEGMENT_BYTES {
                return Err(PathError::SegmentTooLong(segment.len()));
            }
            if let Some(reserved) = RESERVED_SEGMENTS.iter().find(|r| **r == segment) {
                return Err(PathError::Reserved(reserved));
            }
        }
        Ok(FilePath(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's segments, all non-empty and free of `.` and `..`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FilePath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        FilePath::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn refuses_each_rule() {
        let cases: &[(&str, PathError)] = &[
            ("", PathError::Empty),
            ("../x", PathError::DotSegment),
            ("a/../x", PathError::DotSegment),
            ("a/./b", PathError::DotSegment),
            (".", PathError::DotSegment),
            ("/etc/x", PathError::Absolute),
            ("a//b", PathError::EmptySegment),
            ("a/", PathError::EmptySegment),
            ("a\\b", PathError::Backslash),
            ("a\0b", PathError::ControlCharacter),
            ("a\nb", PathError::ControlCharacter),
            ("node_modules/x.js", PathError::Reserved("node_modules")),
            ("pkg/node_modules/x.js", PathError::Reserved("node_modules")),
            (".next/cache", PathError::Reserved(".next")),
        ];
        for (text, expected) in cases {
            assert_eq!(FilePath::parse(text).as_ref(), Err(expected), "{text:?}");
        }
        let overlong = "a/".repeat(512) + "b";
        assert_eq!(FilePath::parse(&overlong), Err(PathError::TooLong(1025)));
    }

    #[test]
    fn a_name_longer_than_a_filesystem_holds_is_refused_and_the_message_names_the_limit() {
        let long_name = format!("src/{}.js", "n".repeat(253));
        let refused = FilePath::parse(&long_name).unwrap_err();
        assert_eq!(refused, PathError::SegmentTooLong(256));
        assert!(refused.to_string().contains("255 bytes"), "{refused}");
        // Multi-byte characters count in bytes, as the filesystem counts them.
        let wide_name = "é".repeat(128);
        assert_eq!(
            FilePath::parse(&wide_name),
            Err(PathError::SegmentTooLong(256))
        );
        let longest = format!("{}/{}", "d".repeat(255), "f".repeat(255));
        assert_eq!(FilePath::parse(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn accepts_ordinary_paths() {
        for text in [
            "a",
            "src/App.tsx",
            ".env",
            "a/..b/c..",
            "ünïcode/файл.txt",
            "x/.hidden",
        ] {
            assert_eq!(FilePath::parse(text).unwrap().as_str(), text);
        }
        let long_path = vec!["a".repeat(255); 4].join("/");
        assert_eq!(long_path.len(), 1023);
        assert_eq!(FilePath::parse(&long_path).unwrap().as_str(), long_path);
    }

    proptest! {
        #[test]
        fn accepted_paths_never_escape(text in "[a-z./\\\\]{1,12}") {
            if let Ok(path) = FilePath::parse(&text) {
                let joined = std::path::Path::new("/root").join(path.as_str());
                let mut depth = 0i32;
                for component in joined.components().skip(2) {
                    match component {
                        std::path::Component::Normal(_) => depth += 1,
                        _ => depth -= 100,
                    }
                }
                prop_assert!(depth >= 1, "{text:?} escaped");
            }
        }
    }
}
