use std::os::unix::fs::symlink;

use super::*;

fn path(text: &str) -> FilePath {
    FilePath::parse(text).unwrap()
}

#[test]
fn the_graft_root_is_the_top_missing_directory_below_real_ones() {
    use DirState::{Missing, Other, Real};
    type Case = (
        &'static str,
        &'static str,
        Vec<(&'static str, DirState)>,
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        ("a file at the top", "x.txt", vec![], None),
        (
            "its directory exists",
            "src/x.txt",
            vec![("src", Real)],
            None,
        ),
        (
            "its directory is missing",
            "src/x.txt",
            vec![("src", Missing)],
            Some("src"),
        ),
        (
            "the top missing one, not the file's own",
            "src/a/b/x.txt",
            vec![("src", Real), ("src/a", Missing)],
            Some("src/a"),
        ),
        (
            "a symlink on the way",
            "link/a/x.txt",
            vec![("link", Other)],
            None,
        ),
        (
            "a file where a directory should be, below a real one",
            "src/blocker/x.txt",
            vec![("src", Real), ("src/blocker", Other)],
            None,
        ),
        (
            "every directory exists",
            "a/b/c/x.txt",
            vec![("a", Real), ("a/b", Real), ("a/b/c", Real)],
            None,
        ),
    ];
    for (case, file, states, expected) in cases {
        let mut asked = Vec::new();
        let root = graft_root(file, |directory| {
            asked.push(directory.to_owned());
            states
                .iter()
                .find(|(known, _)| *known == directory)
                .map_or_else(|| panic!("{case}: asked about {directory}"), |(_, s)| *s)
        });
        assert_eq!(root, expected, "{case}");
        let looked: Vec<&str> = states.iter().map(|(directory, _)| *directory).collect();
        assert_eq!(asked, looked, "{case}: directories looked at, top down");
    }
}

/// Stages `content` for `file` in `graft`, as the download would.
fn stage(graft: &mut Graft, tree: &Path, file: &str, content: &str) -> Option<Grafted> {
    let (staged, root) = graft.staging_path(&path(file)).unwrap()?;
    fs::create_dir_all(staged.parent().unwrap()).unwrap();
    fs::write(&staged, content).unwrap();
    let stamp = Stamp::of(&fs::symlink_metadata(&staged).unwrap());
    let write = StagedWrite {
        entry: sync_protocol::FileEntry {
            path: path(file),
            sha256: sync_protocol::sha256_hex(content.as_bytes()),
            size: content.len() as u64,
        },
        target: tree.join(file),
        temporary: staged,
    };
    Some(Grafted { write, stamp, root })
}

fn written(placed: &[Placed]) -> Vec<(String, Stamp)> {
    let mut written: Vec<(String, Stamp)> = placed
        .iter()
        .filter_map(|outcome| match outcome {
            Placed::Written { entry, stamp } => Some((entry.path.as_str().to_owned(), *stamp)),
            Placed::Refused { .. } => None,
        })
        .collect();
    written.sort_by(|a, b| a.0.cmp(&b.0));
    written
}

#[test]
fn missing_directories_move_in_whole_and_their_files_keep_the_stamps_taken_in_staging() {
    let tree = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    fs::create_dir(tree.path().join("keep")).unwrap();
    let dir = staging.path().join("graft-1");
    let mut graft = Graft::new(tree.path(), dir.clone());

    assert!(
        stage(&mut graft, tree.path(), "keep/z.txt", "z").is_none(),
        "its directory exists: staged the usual way"
    );
    assert!(
        stage(&mut graft, tree.path(), "top.txt", "t").is_none(),
        "the tree's own directory exists"
    );
    let grafted: Vec<Grafted> = [
        ("new/a/x.txt", "x"),
        ("new/b/y.txt", "y"),
        ("keep/deeper/w.txt", "w"),
    ]
    .iter()
    .map(|(file, content)| stage(&mut graft, tree.path(), file, content).unwrap())
    .collect();
    let roots: Vec<usize> = grafted.iter().map(|file| file.root).collect();
    assert_eq!(roots, [0, 0, 1], "new and keep/deeper");
    let stamps: Vec<Stamp> = grafted.iter().map(|file| file.stamp).collect();

    let (placed, failed) = graft.move_in(grafted);

    assert!(failed.is_none(), "{failed:?}");
    for (file, content) in [
        ("new/a/x.txt", "x"),
        ("new/b/y.txt", "y"),
        ("keep/deeper/w.txt", "w"),
    ] {
        assert_eq!(fs::read_to_string(tree.path().join(file)).unwrap(), content);
    }
    let found: Vec<(String, Stamp)> = ["keep/deeper/w.txt", "new/a/x.txt", "new/b/y.txt"]
        .iter()
        .map(|file| {
            let metadata = fs::symlink_metadata(tree.path().join(file)).unwrap();
            ((*file).to_owned(), Stamp::of(&metadata))
        })
        .collect();
    assert_eq!(written(&placed), found, "recorded as they are in the tree");
    assert!(found.iter().all(|(_, stamp)| stamps.contains(stamp)));
    assert!(!dir.exists(), "the graft's staging directory is removed");
}

#[test]
fn a_root_that_appeared_meanwhile_gets_the_files_one_by_one_and_keeps_its_own() {
    let tree = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let mut graft = Graft::new(tree.path(), staging.path().join("graft-1"));
    let grafted = vec![stage(&mut graft, tree.path(), "new/a/x.txt", "x").unwrap()];
    // Made by someone else after the graft looked.
    fs::create_dir_all(tree.path().join("new")).unwrap();
    fs::write(tree.path().join("new/theirs.txt"), b"theirs").unwrap();

    let (placed, failed) = graft.move_in(grafted);

    assert!(failed.is_none(), "{failed:?}");
    assert_eq!(written(&placed).len(), 1);
    assert_eq!(
        fs::read_to_string(tree.path().join("new/a/x.txt")).unwrap(),
        "x"
    );
    assert_eq!(
        fs::read_to_string(tree.path().join("new/theirs.txt")).unwrap(),
        "theirs"
    );
}

#[test]
fn a_symlink_planted_at_the_root_is_never_written_through() {
    let tree = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let mut graft = Graft::new(tree.path(), staging.path().join("graft-1"));
    let grafted = vec![stage(&mut graft, tree.path(), "new/a/x.txt", "x").unwrap()];
    symlink(outside.path(), tree.path().join("new")).unwrap();

    let (placed, failed) = graft.move_in(grafted);

    assert!(failed.is_none(), "{failed:?}");
    assert!(
        matches!(&placed[..], [Placed::Refused { reason, .. }] if reason.contains("symlink")),
        "{placed:?}"
    );
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn a_root_with_no_file_that_arrived_is_not_moved_in() {
    let tree = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let mut graft = Graft::new(tree.path(), staging.path().join("graft-1"));
    let arrived = stage(&mut graft, tree.path(), "one/x.txt", "x").unwrap();
    // Staged, never arrived: the caller leaves it out (and removes its file).
    let never = stage(&mut graft, tree.path(), "two/y.txt", "y").unwrap();
    fs::remove_file(&never.write.temporary).unwrap();

    let (placed, failed) = graft.move_in(vec![arrived]);

    assert!(failed.is_none(), "{failed:?}");
    assert_eq!(written(&placed).len(), 1);
    assert!(tree.path().join("one/x.txt").exists());
    assert!(
        !tree.path().join("two").exists(),
        "an empty directory is not moved in"
    );
}
