//! The write decision as a table: stored files, changes and limits in, the
//! decision out.

use std::collections::HashMap;

use bytes::Bytes;
use sync_protocol::FilePath;

use super::*;

const LIMITS: AppLimits = AppLimits {
    max_files_per_app: 3,
    max_bytes_per_app: 10,
    history_revisions: 2,
};

fn put(path: &str, content: &str) -> FileChange {
    let bytes = Bytes::from(content.to_owned());
    FileChange {
        path: FilePath::parse(path).unwrap(),
        content: Some(Blob {
            sha256: sync_protocol::sha256_hex(&bytes),
            bytes,
        }),
    }
}

fn delete(path: &str) -> FileChange {
    FileChange {
        path: FilePath::parse(path).unwrap(),
        content: None,
    }
}

/// The decision in short: `no-op r`, `refused: <error>`, or
/// `r<revision> changed <n> usage <files>/<bytes> floor <floor> put [..] delete [..]`.
fn summary(decision: Result<WriteDecision<'_>, StoreError>) -> String {
    match decision {
        Ok(WriteDecision::NoOp { revision }) => format!("no-op {revision}"),
        Err(error) => format!("refused: {error}"),
        Ok(WriteDecision::Write(plan)) => {
            let written: Vec<String> = plan
                .written
                .iter()
                .map(|(path, blob)| format!("{path}={}", String::from_utf8_lossy(&blob.bytes)))
                .collect();
            let deleted: Vec<String> = plan.deleted.iter().map(ToString::to_string).collect();
            format!(
                "r{} changed {} usage {}/{} floor {} put [{}] delete [{}]",
                plan.revision,
                plan.changed,
                plan.usage.file_count,
                plan.usage.total_bytes,
                plan.history_floor,
                written.join(" "),
                deleted.join(" ")
            )
        }
    }
}

/// An app at revision 4, floor 1, holding `a` = "12345" and `b` = "xy".
fn app_holding_a_and_b() -> (AppRow, HashMap<String, StoredFile>) {
    let app = AppRow {
        revision: 4,
        usage: AppUsage {
            file_count: 2,
            total_bytes: 7,
        },
        history_floor: 1,
    };
    let stored = [("a", "12345"), ("b", "xy")]
        .iter()
        .map(|(path, content)| {
            let file = StoredFile {
                sha256: sync_protocol::sha256_hex(content.as_bytes()),
                size: content.len() as u64,
            };
            ((*path).to_owned(), file)
        })
        .collect();
    (app, stored)
}

#[test]
fn the_write_decision_follows_its_rules() {
    // The app at revision 4 holds `a` = "12345" and `b` = "xy"; its floor is 1.
    let (app, stored) = app_holding_a_and_b();
    let lowered = AppLimits {
        max_files_per_app: 1,
        max_bytes_per_app: 1,
        ..LIMITS
    };
    let cases: Vec<(&str, Vec<FileChange>, AppLimits, &str)> = vec![
        (
            "the same content saved again changes nothing",
            vec![put("a", "12345"), put("b", "xy")],
            LIMITS,
            "no-op 4",
        ),
        (
            "a new path adds a file and its bytes; the floor follows the retention",
            vec![put("c", "1")],
            LIMITS,
            "r5 changed 1 usage 3/8 floor 3 put [c=1] delete []",
        ),
        (
            "replacing content counts the difference in size only",
            vec![put("a", "1")],
            LIMITS,
            "r5 changed 1 usage 2/3 floor 3 put [a=1] delete []",
        ),
        (
            "a delete frees the file and its bytes",
            vec![delete("b")],
            LIMITS,
            "r5 changed 1 usage 1/5 floor 3 put [] delete [b]",
        ),
        (
            "deleting a path the app does not hold refuses the write, naming the change",
            vec![put("c", "1"), delete("zz")],
            LIMITS,
            "refused: no file at zz",
        ),
        (
            "one path twice runs in order and counts twice",
            vec![put("c", "3"), put("b", "22"), put("c", "33")],
            LIMITS,
            "r5 changed 3 usage 3/9 floor 3 put [b=22 c=33] delete []",
        ),
        (
            "a path written and deleted in one batch is deleted",
            vec![put("c", "3"), delete("c")],
            LIMITS,
            "r5 changed 2 usage 2/7 floor 3 put [] delete [c]",
        ),
        (
            "a path deleted then written again in one batch is written",
            vec![delete("a"), put("a", "9")],
            LIMITS,
            "r5 changed 2 usage 2/3 floor 3 put [a=9] delete []",
        ),
        (
            "content saved back as it was still makes a revision",
            vec![put("b", "zz"), put("b", "xy")],
            LIMITS,
            "r5 changed 2 usage 2/7 floor 3 put [b=xy] delete []",
        ),
        (
            "more files than the limit refuses the whole write",
            vec![put("c", "1"), put("d", "1")],
            LIMITS,
            "refused: the app would hold 4 files; the limit is 3",
        ),
        (
            "more bytes than the limit refuses the whole write",
            vec![put("c", "1234")],
            LIMITS,
            "refused: the app would hold 11 bytes; the limit is 10",
        ),
        (
            "a write that shrinks an app over lowered limits is let through",
            vec![delete("b")],
            lowered,
            "r5 changed 1 usage 1/5 floor 3 put [] delete [b]",
        ),
        (
            "a no-op is a no-op even over lowered limits",
            vec![put("a", "12345")],
            lowered,
            "no-op 4",
        ),
        (
            "a missing path is refused before the limits are counted",
            vec![put("c", "1234"), delete("zz")],
            LIMITS,
            "refused: no file at zz",
        ),
        (
            "the floor never moves back",
            vec![put("c", "1")],
            AppLimits {
                history_revisions: 1000,
                ..LIMITS
            },
            "r5 changed 1 usage 3/8 floor 1 put [c=1] delete []",
        ),
    ];

    for (rule, changes, limits, expected) in &cases {
        let decision = plan_write(app, &stored, &HashMap::new(), changes, *limits);
        assert_eq!(summary(decision), *expected, "{rule}");
    }
}

#[test]
fn a_refused_delete_names_its_index_in_the_batch() {
    let changes = [put("a", "1"), delete("a"), delete("a")];

    let refused = plan_write(
        AppRow::default(),
        &HashMap::new(),
        &HashMap::new(),
        &changes,
        LIMITS,
    );

    assert!(
        matches!(refused, Err(StoreError::FileNotFound { index: 2, .. })),
        "{refused:?}"
    );
}

#[test]
fn a_delta_is_answered_from_the_floor_to_the_current_revision() {
    let app = AppRow {
        revision: 5,
        history_floor: 2,
        ..AppRow::default()
    };
    let answered: Vec<bool> = (0..=6)
        .map(|since| app.answers_delta_since(since))
        .collect();

    assert_eq!(answered, [false, false, true, true, true, true, false]);
}

#[test]
fn a_file_and_a_directory_of_the_same_name_are_refused() {
    // The app holds `src/main.ts`, `lib` (a file) and `old/x`.
    let stored_content = ["src/main.ts", "lib", "old/x"];
    let files: HashMap<String, StoredFile> = stored_content
        .iter()
        .map(|path| {
            let file = StoredFile {
                sha256: sync_protocol::sha256_hex(b"x"),
                size: 1,
            };
            ((*path).to_owned(), file)
        })
        .collect();
    let app = AppRow {
        revision: 1,
        usage: AppUsage {
            file_count: 3,
            total_bytes: 3,
        },
        history_floor: 0,
    };
    let cases: Vec<(&str, Vec<FileChange>, &str)> = vec![
        (
            "a file beneath a stored file",
            vec![put("lib/util.ts", "1")],
            "refused: \"lib\" is a file, so \"lib/util.ts\" cannot be beneath it",
        ),
        (
            "a file where stored files need a directory",
            vec![put("src", "1")],
            "refused: \"src\" is a file, so \"src/main.ts\" cannot be beneath it",
        ),
        (
            "both in one batch",
            vec![put("docs/a/b.md", "1"), put("docs/a", "1")],
            "refused: \"docs/a\" is a file, so \"docs/a/b.md\" cannot be beneath it",
        ),
        (
            "a file beneath a file put earlier in the batch",
            vec![put("docs", "1"), put("docs/readme.md", "1")],
            "refused: \"docs\" is a file, so \"docs/readme.md\" cannot be beneath it",
        ),
        (
            "a directory whose only file the batch deletes is free",
            vec![delete("old/x"), put("old", "1")],
            "r2 changed 2 usage 3/3 floor 0 put [old=1] delete [old/x]",
        ),
        (
            "a file whose path the batch deletes leaves room for a directory",
            vec![delete("lib"), put("lib/util.ts", "1")],
            "r2 changed 2 usage 3/3 floor 0 put [lib/util.ts=1] delete [lib]",
        ),
        (
            "a name that only starts like a directory is no conflict",
            vec![put("src.bak", "1"), put("srcs/a", "1"), put("li", "1")],
            "r2 changed 3 usage 6/6 floor 0 put [li=1 src.bak=1 srcs/a=1] delete []",
        ),
    ];

    for (rule, changes, expected) in &cases {
        let stored: HashMap<String, StoredFile> = paths_to_read(changes)
            .into_iter()
            .filter_map(|path| Some((path.to_owned(), files.get(path)?.clone())))
            .collect();
        // What a backend reads beneath each path the write may create.
        let beneath: HashMap<String, Vec<String>> = may_create(changes, &stored)
            .into_iter()
            .filter_map(|path| {
                let (low, high) = beneath_bounds(path);
                let found: Vec<String> = stored_content
                    .iter()
                    .filter(|stored| **stored > low.as_str() && **stored < high.as_str())
                    .map(|stored| (*stored).to_owned())
                    .collect();
                (!found.is_empty()).then(|| (path.to_owned(), found))
            })
            .collect();

        let roomy = AppLimits {
            max_files_per_app: 100,
            max_bytes_per_app: 100,
            ..LIMITS
        };
        let decision = plan_write(app, &stored, &beneath, changes, roomy);

        assert_eq!(summary(decision), *expected, "{rule}");
    }
}

#[test]
fn the_content_a_write_gives_up_is_counted_as_garbage_and_named_for_the_sweep() {
    let (app, stored) = app_holding_a_and_b();
    let cases: Vec<(&str, Vec<FileChange>, Garbage, Vec<&str>)> = vec![
        (
            "a new path gives up nothing",
            vec![put("c", "1")],
            Garbage::default(),
            vec![],
        ),
        (
            "replaced content is garbage by its stored size",
            vec![put("a", "1")],
            Garbage { blobs: 1, bytes: 5 },
            vec!["a"],
        ),
        (
            "deleted content is garbage",
            vec![delete("b")],
            Garbage { blobs: 1, bytes: 2 },
            vec!["b"],
        ),
        (
            "content written away and back in one batch is kept",
            vec![put("b", "zz"), put("b", "xy")],
            Garbage::default(),
            vec![],
        ),
        (
            "a path written twice in a batch gives up its stored content once",
            vec![put("a", "1"), put("a", "2"), delete("b")],
            Garbage { blobs: 2, bytes: 7 },
            vec!["a", "b"],
        ),
        (
            "a path added and deleted in one batch never stored anything",
            vec![put("c", "3"), delete("c")],
            Garbage::default(),
            vec![],
        ),
    ];

    for (rule, changes, expected, given_up_by) in &cases {
        let decision = plan_write(app, &stored, &HashMap::new(), changes, LIMITS).unwrap();
        let WriteDecision::Write(plan) = decision else {
            panic!("{rule}: no write");
        };
        assert_eq!(plan.garbage, *expected, "{rule}");
        let given_up: Vec<&str> = given_up_by
            .iter()
            .map(|path| stored[*path].sha256.as_str())
            .collect();
        assert_eq!(plan.given_up, given_up, "{rule}: the sweep's candidates");
    }
}
