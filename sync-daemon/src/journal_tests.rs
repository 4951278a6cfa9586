use super::*;

fn path(text: &str) -> FilePath {
    FilePath::parse(text).unwrap()
}

const STAMP: Stamp = Stamp {
    size: 1,
    mtime_ns: 2,
    ino: 3,
    ctime_ns: 4,
};

/// An index of `count` files, saved durably (a snapshot, a log that
/// holds only its first line).
fn saved(state: &std::path::Path, count: usize) -> Index {
    let mut index = Index::load(state).unwrap();
    for number in 0..count {
        index.record(
            path(&format!("dir/file-{number}.ts")),
            "a".repeat(64),
            STAMP,
        );
    }
    index.revision = Some(1);
    index.save().unwrap();
    assert!(holds_only_its_first_line(state));
    index
}

fn log_length(state: &std::path::Path) -> u64 {
    fs::metadata(state.join("index.log")).map_or(0, |m| m.len())
}

fn holds_only_its_first_line(state: &std::path::Path) -> bool {
    let log = fs::read(state.join("index.log")).unwrap();
    let (lines, intact) = complete_lines(&log);
    intact && matches!(lines[..], [Line::Follows { .. }])
}

fn append(state: &std::path::Path, bytes: &[u8]) {
    let mut log = fs::OpenOptions::new()
        .append(true)
        .open(state.join("index.log"))
        .unwrap();
    log.write_all(bytes).unwrap();
}

#[test]
fn a_one_file_change_appends_bytes_proportional_to_the_change() {
    let state = tempfile::tempdir().unwrap();
    let mut index = saved(state.path(), 2_000);
    let snapshot = fs::read(state.path().join("index.json")).unwrap();
    let header = log_length(state.path());

    index.record(path("dir/file-7.ts"), "b".repeat(64), STAMP);
    index.forget(&path("dir/file-8.ts"));
    index.revision = Some(2);
    index.save_unsynced().unwrap();

    assert_eq!(
        fs::read(state.path().join("index.json")).unwrap(),
        snapshot,
        "the snapshot is untouched"
    );
    let appended = log_length(state.path()) - header;
    assert!(
        appended > 0 && appended < 400,
        "{appended} bytes for two changes"
    );
    let loaded = Index::load(state.path()).unwrap();
    assert_eq!(loaded.revision, Some(2));
    assert_eq!(
        loaded.files[&path("dir/file-7.ts")].sha256.to_hex(),
        "b".repeat(64)
    );
    assert!(!loaded.owns(&path("dir/file-8.ts")));
    assert_eq!(loaded.files.len(), 1_999);

    // Nothing changed since: nothing is written.
    index.save_unsynced().unwrap();
    assert_eq!(log_length(state.path()), header + appended);
}

#[test]
fn the_log_is_folded_into_a_snapshot_when_it_outgrows_it_and_on_a_durable_save() {
    let state = tempfile::tempdir().unwrap();
    let mut index = saved(state.path(), 10);
    for round in 0..2_000u64 {
        index.record(
            path(&format!("dir/file-{}.ts", round % 10)),
            format!("{round:064}"),
            STAMP,
        );
        index.revision = Some(round + 2);
        index.save_unsynced().unwrap();
        assert!(log_length(state.path()) <= MIN_LOG_BYTES, "round {round}");
    }
    let loaded = Index::load(state.path()).unwrap();
    assert_eq!(loaded.revision, Some(2_001));
    assert_eq!(
        loaded.files[&path("dir/file-9.ts")].sha256.to_hex(),
        format!("{:064}", 1_999)
    );

    index.record(path("dir/late.ts"), "c".repeat(64), STAMP);
    index.save().unwrap();
    assert!(
        holds_only_its_first_line(state.path()),
        "a durable save leaves everything in the snapshot"
    );
    assert!(
        Index::load(state.path())
            .unwrap()
            .owns(&path("dir/late.ts"))
    );
}

#[test]
fn the_first_save_makes_a_snapshot() {
    let state = tempfile::tempdir().unwrap();
    let mut index = Index::load(state.path()).unwrap();
    index.record(path("a.ts"), "a".repeat(64), STAMP);
    index.save_unsynced().unwrap();
    assert!(state.path().join("index.json").is_file());
    assert!(holds_only_its_first_line(state.path()));
}

#[test]
fn a_torn_last_line_and_a_log_replayed_twice_are_harmless() {
    let state = tempfile::tempdir().unwrap();
    let mut index = saved(state.path(), 3);
    index.record(path("dir/new.ts"), "d".repeat(64), STAMP);
    index.forget(&path("dir/file-0.ts"));
    index.save_unsynced().unwrap();
    let log = fs::read(state.path().join("index.log")).unwrap();

    // A power loss tore the next line in half.
    append(state.path(), br#"0123abcd {"forget":{"path":"dir/fi"#);
    let loaded = Index::load(state.path()).unwrap();
    assert!(loaded.owns(&path("dir/new.ts")) && !loaded.owns(&path("dir/file-0.ts")));
    assert!(loaded.owns(&path("dir/file-1.ts")));

    // Killed between a new snapshot and emptying the log: the old lines
    // replay onto a snapshot that already holds them.
    index.save().unwrap();
    fs::write(state.path().join("index.log"), &log).unwrap();
    let replayed = Index::load(state.path()).unwrap();
    assert_eq!(replayed.files, index.files);
}

#[test]
fn a_torn_or_corrupt_record_is_never_trusted_and_later_saves_are_kept() {
    let cases: [(&str, &[u8]); 4] = [
        ("torn mid-line", br#"{"record":{"path":"dir/mine.ts","sha"#),
        ("complete but without its newline", b""),
        ("a flipped byte", b""),
        ("no checksum", b""),
    ];
    for (case, tail) in cases {
        let state = tempfile::tempdir().unwrap();
        saved(state.path(), 3);
        // The record a kill tore: it would claim a path the daemon never wrote.
        let mut claim = Vec::new();
        let line = Line::Record {
            path: path("dir/not-mine.ts"),
            sha256: "e".repeat(64),
            stamp: STAMP,
        };
        push_line(&mut claim, &line).unwrap();
        let torn = match case {
            "torn mid-line" => [&claim[..20], tail].concat(),
            "complete but without its newline" => claim[..claim.len() - 1].to_vec(),
            "a flipped byte" => {
                let mut flipped = claim.clone();
                let at = flipped.len() - 10;
                flipped[at] = b'f';
                flipped
            }
            _ => claim[CHECKSUM_HEX + 1..].to_vec(),
        };
        append(state.path(), &torn);

        let mut loaded = Index::load(state.path()).unwrap();
        assert!(!loaded.owns(&path("dir/not-mine.ts")), "{case}");
        assert_eq!(loaded.files.len(), 3, "{case}");

        // The restarted daemon saves again: nothing hides behind the bad line.
        loaded.record(path("dir/after.ts"), "f".repeat(64), STAMP);
        loaded.save_unsynced().unwrap();
        let reloaded = Index::load(state.path()).unwrap();
        assert!(reloaded.owns(&path("dir/after.ts")), "{case}");
        assert!(!reloaded.owns(&path("dir/not-mine.ts")), "{case}");
    }
}

#[test]
fn a_log_older_than_the_snapshot_cannot_bring_back_a_deleted_path() {
    let state = tempfile::tempdir().unwrap();
    let mut index = saved(state.path(), 3);
    index.record(path("dir/gone.ts"), "a".repeat(64), STAMP);
    index.save_unsynced().unwrap();
    let log = fs::read(state.path().join("index.log")).unwrap();

    // The daemon deletes the file, and its next save writes a snapshot;
    // it is killed before the log is started afresh.
    index.forget(&path("dir/gone.ts"));
    index.save().unwrap();
    fs::write(state.path().join("index.log"), &log).unwrap();

    let loaded = Index::load(state.path()).unwrap();
    assert!(!loaded.owns(&path("dir/gone.ts")));
    assert_eq!(loaded.files, index.files);
}
