//! Filesystem primitives with the daemon's safety rules: every write or
//! delete lands inside the synced tree, never through a symlink, never in
//! place.
//!
//! [`FilePath`] already guarantees a path cannot leave the tree lexically.
//! What it cannot see is the disk: a directory on the way may have been
//! replaced by a symlink to `/etc`. So every parent is checked with
//! `symlink_metadata` before the daemon writes or deletes below it. The
//! final component itself is never followed: `rename` and `unlink` act on
//! the link, not its target.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sync_protocol::{FilePath, PathError};

/// Why the daemon will not write or delete a path.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    Invalid(#[from] PathError),
    #[error("{} is a symlink; refusing to write through it", .0.display())]
    SymlinkParent(PathBuf),
    #[error("{} is in the way: it is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("{} is a directory; a file cannot replace it", .0.display())]
    DirectoryInTheWay(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// What the daemon remembers about a file's inode, to know it unchanged
/// without reading it: size, mtime, inode number and ctime. ctime moves on
/// every write or rename-over, so an edit that keeps size and mtime is seen
/// too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i64,
    pub ino: u64,
    pub ctime_ns: i64,
}

impl Stamp {
    pub fn of(metadata: &fs::Metadata) -> Stamp {
        Stamp {
            size: metadata.size(),
            mtime_ns: metadata.mtime() * 1_000_000_000 + metadata.mtime_nsec(),
            ino: metadata.ino(),
            ctime_ns: metadata.ctime() * 1_000_000_000 + metadata.ctime_nsec(),
        }
    }
}

/// Directories found (or made) real, not symlinks, earlier in one step of
/// a cycle, so a tree of 10,000 files in 1,000 directories costs about
/// 1,000 parent checks instead of 30,000. A step that may remove directories
/// (the burst's deletes) starts a new one after them.
#[derive(Debug, Default)]
pub struct CheckedDirs {
    real: HashSet<PathBuf>,
    /// Directories found missing (and not made since): on an initial sync,
    /// every file's target was looked up twice more to learn that.
    missing: HashSet<PathBuf>,
}

/// What the way to a target holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Way {
    /// Every parent that exists is a real directory; the target may exist.
    Open(PathBuf),
    /// A parent does not exist, so neither does the target.
    Missing(PathBuf),
}

impl Way {
    pub fn target(self) -> PathBuf {
        match self {
            Way::Open(target) | Way::Missing(target) => target,
        }
    }
}

/// The absolute target of `path` under `root`, after re-validating the path
/// and checking that no existing parent directory is a symlink or a file.
/// Parents that do not exist yet are fine: [`create_parents`] makes them.
pub fn checked_target(
    root: &Path,
    path: &FilePath,
    dirs: &mut CheckedDirs,
) -> Result<PathBuf, Refused> {
    checked_way(root, path, dirs).map(Way::target)
}

/// [`checked_target`], also saying whether a parent is missing (then the
/// target need not be looked at).
pub fn checked_way(root: &Path, path: &FilePath, dirs: &mut CheckedDirs) -> Result<Way, Refused> {
    let path = FilePath::parse(path.as_str())?;
    let mut current = root.to_path_buf();
    let mut segments = path.segments().peekable();
    while let Some(segment) = segments.next() {
        current.push(segment);
        if segments.peek().is_none() {
            break;
        }
        if dirs.real.contains(&current) {
            continue;
        }
        if dirs.missing.contains(&current) {
            return Ok(Way::Missing(root.join(path.as_str())));
        }
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(Refused::SymlinkParent(current));
            }
            Ok(metadata) if !metadata.is_dir() => return Err(Refused::NotADirectory(current)),
            Ok(_) => drop(dirs.real.insert(current.clone())),
            // Nothing below a missing directory exists either.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                dirs.missing.insert(current);
                return Ok(Way::Missing(root.join(path.as_str())));
            }
            Err(source) => {
                return Err(Refused::Io {
                    path: current,
                    source,
                });
            }
        }
    }
    Ok(Way::Open(root.join(path.as_str())))
}

/// Creates the missing parents of `path` under `root` one level at a time,
/// refusing any symlink met on the way (including one created since
/// [`checked_target`] looked).
pub fn create_parents(root: &Path, path: &FilePath, dirs: &mut CheckedDirs) -> Result<(), Refused> {
    let mut current = root.to_path_buf();
    let segments: Vec<&str> = path.segments().collect();
    for segment in &segments[..segments.len() - 1] {
        current.push(segment);
        if dirs.real.contains(&current) {
            continue;
        }
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(Refused::SymlinkParent(current));
            }
            Ok(metadata) if !metadata.is_dir() => return Err(Refused::NotADirectory(current)),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => match fs::create_dir(&current)
            {
                Ok(()) => {}
                // Another writer made it meanwhile; the next loop turn would
                // not re-check it, so check it here.
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    if !fs::symlink_metadata(&current).is_ok_and(|m| m.is_dir()) {
                        return Err(Refused::NotADirectory(current));
                    }
                }
                Err(source) => {
                    return Err(Refused::Io {
                        path: current,
                        source,
                    });
                }
            },
            Err(source) => {
                return Err(Refused::Io {
                    path: current,
                    source,
                });
            }
        }
        dirs.missing.remove(&current);
        dirs.real.insert(current.clone());
    }
    Ok(())
}

/// Removes now-empty directories above a deleted file, up to (not
/// including) `root`. A directory that still holds anything stays.
pub fn remove_empty_parents(root: &Path, target: &Path) {
    let mut current = target.parent();
    while let Some(dir) = current {
        if dir == root || !dir.starts_with(root) || fs::remove_dir(dir).is_err() {
            return;
        }
        current = dir.parent();
    }
}

/// Lower-case hex sha256 and length of a file's content.
pub fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut length = 0;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok((hex::encode(hasher.finalize()), length));
        }
        hasher.update(&buffer[..read]);
        length += read as u64;
    }
}

/// Writes a small file of the daemon's own (index, records) so a crash
/// leaves either the old or the new version.
pub fn write_atomically(path: &Path, content: &[u8]) -> io::Result<()> {
    write_then_rename(path, content, true)
}

/// Writes `content` to a new temporary beside `path` (see [`create_new`]),
/// fsynced when `sync`, and renames it over `path`.
pub fn write_then_rename(path: &Path, content: &[u8], sync: bool) -> io::Result<()> {
    let temporary = path.with_extension(format!("{}.tmp", unpredictable_name()));
    let written = create_new(&temporary).and_then(|mut file| {
        file.write_all(content)?;
        if sync {
            file.sync_all()?;
        }
        Ok(())
    });
    let renamed = written.and_then(|()| fs::rename(&temporary, path));
    if renamed.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    renamed
}

/// Creates a file that did not exist, refusing whatever is at `path`, a
/// symlink above all (`O_CREAT | O_EXCL | O_NOFOLLOW`): a name planted in
/// advance (in a tree the app's code can write) is never written through.
pub fn create_new(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o644)
        .open(path)
}

/// Copies `source` into a new file at `destination` (see [`create_new`]).
pub fn copy_new(source: &Path, destination: &Path) -> io::Result<u64> {
    let mut from = fs::File::open(source)?;
    let mut to = create_new(destination)?;
    io::copy(&mut from, &mut to)
}

/// 64 random bits in hex: a temporary name no one can guess and plant first.
pub fn unpredictable_name() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The device a path lives on, to tell whether `rename` can cross.
pub fn device_of(path: &Path) -> io::Result<u64> {
    Ok(fs::metadata(path)?.dev())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn file_path(text: &str) -> FilePath {
        FilePath::parse(text).unwrap()
    }

    #[test]
    fn refuses_a_symlinked_parent_that_leads_outside() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.path().join("src")).unwrap();

        let refused = checked_target(
            root.path(),
            &file_path("src/x.ts"),
            &mut CheckedDirs::default(),
        )
        .unwrap_err();
        assert!(
            matches!(refused, Refused::SymlinkParent(ref p) if p.ends_with("src")),
            "{refused}"
        );
        let refused = create_parents(
            root.path(),
            &file_path("src/deeper/x.ts"),
            &mut CheckedDirs::default(),
        )
        .unwrap_err();
        assert!(matches!(refused, Refused::SymlinkParent(_)), "{refused}");
        assert_eq!(
            fs::read_dir(outside.path()).unwrap().count(),
            0,
            "nothing was created outside"
        );
    }

    #[test]
    fn refuses_a_symlink_deep_in_the_tree_even_to_inside() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("a/real")).unwrap();
        symlink(root.path().join("a/real"), root.path().join("a/link")).unwrap();
        assert!(
            checked_target(
                root.path(),
                &file_path("a/link/x"),
                &mut CheckedDirs::default()
            )
            .is_err()
        );
        assert!(
            checked_target(
                root.path(),
                &file_path("a/real/x"),
                &mut CheckedDirs::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn a_file_where_a_directory_should_be_is_refused() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("a"), b"file").unwrap();
        assert!(matches!(
            checked_target(root.path(), &file_path("a/b"), &mut CheckedDirs::default()),
            Err(Refused::NotADirectory(_))
        ));
        assert!(matches!(
            create_parents(root.path(), &file_path("a/b"), &mut CheckedDirs::default()),
            Err(Refused::NotADirectory(_))
        ));
    }

    #[test]
    fn a_symlink_as_the_final_component_is_allowed_because_rename_replaces_the_link() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"keep").unwrap();
        symlink(outside.path().join("secret"), root.path().join("x")).unwrap();
        let target =
            checked_target(root.path(), &file_path("x"), &mut CheckedDirs::default()).unwrap();
        let staged = root.path().join(".x.sync~");
        fs::write(&staged, b"new").unwrap();
        fs::rename(&staged, &target).unwrap();
        assert_eq!(fs::read(outside.path().join("secret")).unwrap(), b"keep");
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_directory_is_checked_once_per_step_and_afresh_in_the_next() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let mut step = CheckedDirs::default();
        create_parents(root.path(), &file_path("a/b.txt"), &mut step).unwrap();
        assert!(checked_target(root.path(), &file_path("a/c.txt"), &mut step).is_ok());
        // Swapped for a symlink within the step: the step trusts what it
        // checked; the next step (a fresh set) refuses it.
        fs::remove_dir(root.path().join("a")).unwrap();
        symlink(outside.path(), root.path().join("a")).unwrap();
        assert!(checked_target(root.path(), &file_path("a/d.txt"), &mut step).is_ok());
        let mut next = CheckedDirs::default();
        assert!(checked_target(root.path(), &file_path("a/d.txt"), &mut next).is_err());
        assert!(create_parents(root.path(), &file_path("a/d.txt"), &mut next).is_err());
    }

    #[test]
    fn a_target_below_a_missing_directory_is_known_missing_until_the_step_makes_it() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("there")).unwrap();
        let mut step = CheckedDirs::default();
        let way = |path: &str, step: &mut CheckedDirs| match checked_way(
            root.path(),
            &file_path(path),
            step,
        )
        .unwrap()
        {
            Way::Open(_) => "open",
            Way::Missing(_) => "missing",
        };
        let cases = [
            ("top.txt", "open"),
            ("there/a.txt", "open"),
            ("gone/a.txt", "missing"),
            ("gone/b/c.txt", "missing"),
        ];
        for (path, expected) in cases {
            assert_eq!(way(path, &mut step), expected, "{path}");
        }
        create_parents(root.path(), &file_path("gone/b/c.txt"), &mut step).unwrap();
        assert_eq!(way("gone/a.txt", &mut step), "open", "made by the step");
        assert_eq!(way("gone/b/c.txt", &mut step), "open");
    }

    #[test]
    fn creates_parents_level_by_level() {
        let root = tempfile::tempdir().unwrap();
        create_parents(
            root.path(),
            &file_path("a/b/c/d.txt"),
            &mut CheckedDirs::default(),
        )
        .unwrap();
        assert!(root.path().join("a/b/c").is_dir());
        assert!(!root.path().join("a/b/c/d.txt").exists());
        remove_empty_parents(root.path(), &root.path().join("a/b/c/d.txt"));
        assert!(!root.path().join("a").exists());
        assert!(root.path().exists());
    }

    #[test]
    fn a_symlink_planted_at_a_new_file_name_is_never_written_through() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        fs::write(&secret, b"keep").unwrap();
        let planted = root.path().join(".x.sync~");
        symlink(&secret, &planted).unwrap();
        let dangling = root.path().join(".y.sync~");
        symlink(outside.path().join("new"), &dangling).unwrap();

        let through_link = create_new(&planted).unwrap_err();
        let through_dangling = create_new(&dangling).unwrap_err();
        let source = root.path().join("source");
        fs::write(&source, b"new content").unwrap();
        let copied = copy_new(&source, &planted);

        assert_eq!(through_link.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(through_dangling.kind(), io::ErrorKind::AlreadyExists);
        assert!(copied.is_err());
        assert_eq!(fs::read(&secret).unwrap(), b"keep");
        assert!(!outside.path().join("new").exists());
    }

    #[test]
    fn temporary_names_are_unpredictable() {
        let names: HashSet<String> = (0..100).map(|_| unpredictable_name()).collect();
        assert_eq!(names.len(), 100);
        assert!(names.iter().all(|name| name.len() == 16));
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        write_atomically(&path, b"one").unwrap();
        write_then_rename(&path, b"two", false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stamps_change_with_content_even_at_equal_size() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("f");
        fs::write(&path, b"one").unwrap();
        let before = Stamp::of(&fs::symlink_metadata(&path).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(&path, b"two").unwrap();
        let after = Stamp::of(&fs::symlink_metadata(&path).unwrap());
        assert_eq!(before.size, after.size);
        assert_ne!(before, after);
        assert_eq!(
            hash_file(&path).unwrap(),
            (sync_protocol::sha256_hex(b"two"), 3)
        );
    }
}
