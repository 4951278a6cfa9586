//! The tree rule: no path is both a file and a directory.

use super::{LIMITS, Store, app, delete, put};
use crate::store::StoreError;

pub async fn a_file_and_a_directory_of_the_same_name_are_refused(
    first: &dyn Store,
    second: &dyn Store,
) {
    let app_id = app("app");
    first
        .apply(&app_id, &[put("src/main.ts", "1"), put("lib", "2")], LIMITS)
        .await
        .unwrap();

    let file_over_directory = second.apply(&app_id, &[put("src", "x")], LIMITS).await;
    let beneath_a_file = second
        .apply(&app_id, &[put("lib/util.ts", "x")], LIMITS)
        .await;
    let within_one_batch = second
        .apply(&app_id, &[put("docs/a.md", "x"), put("docs", "y")], LIMITS)
        .await;
    let freed = second
        .apply(&app_id, &[delete("lib"), put("lib/util.ts", "x")], LIMITS)
        .await;

    let conflict = |result: &Result<_, StoreError>| match result {
        Err(StoreError::FileDirectoryConflict { file, beneath }) => {
            Some((file.clone(), beneath.clone()))
        }
        _ => None,
    };
    assert_eq!(
        conflict(&file_over_directory),
        Some(("src".to_owned(), "src/main.ts".to_owned())),
        "{file_over_directory:?}"
    );
    assert_eq!(
        conflict(&beneath_a_file),
        Some(("lib".to_owned(), "lib/util.ts".to_owned())),
        "{beneath_a_file:?}"
    );
    assert_eq!(
        conflict(&within_one_batch),
        Some(("docs".to_owned(), "docs/a.md".to_owned())),
        "{within_one_batch:?}"
    );
    assert_eq!(freed.unwrap().revision, 2);
    let manifest = first.manifest(&app_id).await.unwrap();
    let paths: Vec<String> = manifest
        .files
        .iter()
        .map(|file| file.path.to_string())
        .collect();
    assert_eq!(paths, ["lib/util.ts", "src/main.ts"]);
}
