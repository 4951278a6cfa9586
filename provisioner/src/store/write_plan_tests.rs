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

#[test]
fn the_write_decision_follows_its_rules() {
    // The app at revision 4 holds `a` = "12345" and `b` = "xy"; its floor is 1.
    let app = AppRow {
        revision: 4,
        usage: AppUsage {
            file_count: 2,
            total_bytes: 7,
        },
        history_floor: 1,
    };
    let stored_content = [("a", "12345"), ("b", "xy")];
    let stored: HashMap<String, StoredFile> = stored_content
        .iter()
        .map(|(path, content)| {
            let file = StoredFile {
                sha256: sync_protocol::sha256_hex(content.as_bytes()),
                size: content.len() as u64,
            };
            ((*path).to_owned(), file)
        })
        .collect();
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
        let decision = plan_write(app, &stored, changes, *limits);
        assert_eq!(summary(decision), *expected, "{rule}");
    }
}

#[test]
fn a_refused_delete_names_its_index_in_the_batch() {
    let changes = [put("a", "1"), delete("a"), delete("a")];

    let refused = plan_write(AppRow::default(), &HashMap::new(), &changes, LIMITS);

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
