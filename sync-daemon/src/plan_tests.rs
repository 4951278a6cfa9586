//! Table tests of [`crate::plan`].

use std::collections::BTreeMap;

use super::*;

impl Ownership for BTreeMap<FilePath, String> {
    fn owned_sha256(&self, path: &FilePath) -> Option<String> {
        self.get(path).cloned()
    }
    fn owned_paths(&self) -> impl Iterator<Item = &FilePath> {
        self.keys()
    }
}

fn path(text: &str) -> FilePath {
    FilePath::parse(text).unwrap()
}

fn entry(text: &str, sha256: &str) -> FileEntry {
    FileEntry {
        path: path(text),
        sha256: sha256.to_owned(),
        size: 1,
    }
}

const STAMP: Stamp = Stamp {
    size: 1,
    mtime_ns: 2,
    ino: 3,
    ctime_ns: 4,
};

fn file(sha256: &str) -> Seen {
    Seen::File {
        sha256: sha256.to_owned(),
        stamp: STAMP,
    }
}

/// One manifest entry `x` (content "new"), what the daemon owns at `x`,
/// what is on disk there, and the one operation expected.
#[test]
fn each_manifest_entry_gets_the_operation_its_owner_and_disk_call_for() {
    let x = || entry("x", "new");
    let cases: Vec<(&str, Option<&str>, Seen, Operation)> = vec![
        ("nothing there", None, Seen::Missing, Operation::Write(x())),
        (
            "owned, gone",
            Some("old"),
            Seen::Missing,
            Operation::Write(x()),
        ),
        (
            "owned, unedited",
            Some("old"),
            file("old"),
            Operation::Write(x()),
        ),
        (
            "owned, edited locally",
            Some("old"),
            file("edit"),
            Operation::Restore(x()),
        ),
        (
            "a stranger's file",
            None,
            file("mine"),
            Operation::Replace(x()),
        ),
        (
            "a stranger's identical file",
            None,
            file("new"),
            Operation::Adopt {
                path: path("x"),
                sha256: "new".into(),
                stamp: STAMP,
            },
        ),
        (
            "owned, already right",
            Some("new"),
            file("new"),
            Operation::Adopt {
                path: path("x"),
                sha256: "new".into(),
                stamp: STAMP,
            },
        ),
        (
            "a directory or symlink",
            None,
            Seen::NotAFile,
            Operation::Write(x()),
        ),
        (
            "a symlink on the way",
            None,
            Seen::Unsafe("src is a symlink".into()),
            Operation::Refuse {
                path: path("x"),
                reason: "src is a symlink".into(),
            },
        ),
        (
            "a file on the way that stays",
            None,
            Seen::UnderAFile(path("kept")),
            Operation::Refuse {
                path: path("x"),
                reason: not_a_directory(&path("kept")),
            },
        ),
    ];
    for (case, owned_sha256, on_disk, expected) in cases {
        let owned: BTreeMap<FilePath, String> = owned_sha256
            .map(|sha| (path("x"), sha.to_owned()))
            .into_iter()
            .collect();
        let manifest = full(vec![x()]);
        let seen = HashMap::from([(path("x"), on_disk)]);
        assert_eq!(plan(&manifest, &owned, &seen), vec![expected], "{case}");
    }
}

fn full(files: Vec<FileEntry>) -> Manifest {
    Manifest {
        revision: 2,
        full: true,
        files,
        deleted: Vec::new(),
        etag: None,
        store_id: None,
        refused: Vec::new(),
        contents: Default::default(),
    }
}

fn delta(files: Vec<FileEntry>, deleted: &[&str]) -> Manifest {
    Manifest {
        revision: 2,
        full: false,
        files,
        deleted: deleted.iter().map(|text| path(text)).collect(),
        etag: None,
        store_id: None,
        refused: Vec::new(),
        contents: Default::default(),
    }
}

fn owning(paths: &[&str]) -> BTreeMap<FilePath, String> {
    paths
        .iter()
        .map(|text| (path(text), "old".to_owned()))
        .collect()
}

#[test]
fn only_owned_paths_leave_and_how_they_leave_depends_on_the_manifest_kind() {
    let owned = owning(&["a", "b", "c"]);
    // A full manifest drops every owned path it does not list.
    let listed = full(vec![entry("b", "new")]);
    assert_eq!(leaving(&listed, &owned), [path("a"), path("c")]);
    // A delta drops what it names as deleted, and only what is owned.
    let named = delta(vec![entry("b", "new")], &["c", "never-written"]);
    assert_eq!(leaving(&named, &owned), [path("c")]);
    // An empty full manifest empties the daemon's part of the tree.
    assert_eq!(leaving(&full(Vec::new()), &owned).len(), 3);
}

#[test]
fn deletes_come_first_and_unsafe_ones_are_refused() {
    let owned = owning(&["gone", "linked/gone", "under/gone"]);
    let manifest = full(vec![entry("kept", "new")]);
    let seen = HashMap::from([
        (path("gone"), Seen::Reachable),
        (
            path("linked/gone"),
            Seen::Unsafe("linked is a symlink".into()),
        ),
        (path("under/gone"), Seen::UnderAFile(path("under"))),
        (path("kept"), Seen::Missing),
    ]);
    assert_eq!(
        plan(&manifest, &owned, &seen),
        vec![
            Operation::Delete(path("gone")),
            Operation::Refuse {
                path: path("linked/gone"),
                reason: "linked is a symlink".into()
            },
            Operation::Refuse {
                path: path("under/gone"),
                reason: not_a_directory(&path("under"))
            },
            Operation::Write(entry("kept", "new")),
        ]
    );
}

#[test]
fn a_file_becoming_a_directory_is_written_once_its_delete_frees_the_way() {
    let owned = owning(&["a"]);
    let manifest = delta(vec![entry("a/b", "new")], &["a"]);
    let seen = HashMap::from([
        (path("a"), Seen::Reachable),
        (path("a/b"), Seen::UnderAFile(path("a"))),
    ]);
    assert_eq!(
        plan(&manifest, &owned, &seen),
        vec![
            Operation::Delete(path("a")),
            Operation::Write(entry("a/b", "new"))
        ]
    );
    // A stranger's file in the way is never deleted, so the write is refused.
    let stranger = delta(vec![entry("a/b", "new")], &["a"]);
    assert_eq!(
        plan(&stranger, &owning(&[]), &seen),
        vec![Operation::Refuse {
            path: path("a/b"),
            reason: not_a_directory(&path("a"))
        }]
    );
}

#[test]
fn a_path_not_looked_at_is_refused_rather_than_guessed() {
    let manifest = full(vec![entry("x", "new")]);
    let operations = plan(&manifest, &owning(&[]), &HashMap::new());
    assert!(
        matches!(&operations[..], [Operation::Refuse { .. }]),
        "{operations:?}"
    );
}
