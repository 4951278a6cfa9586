//! Turns a batch request's changes into validated store changes, naming the
//! first bad one by index and path.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use sync_protocol::{BatchChange, FilePath};

use super::error::{FilesError, Subject};
use super::{Limits, blob_of};
use crate::store::FileChange;

/// A batch's changes checked one by one (path, exactly one content form,
/// size) and refused whole when a path appears twice. Public for the fuzz
/// target (`fuzz/`), which feeds it bodies the files route would accept as JSON.
pub fn parse_changes(
    changes: Vec<BatchChange>,
    limits: &Limits,
) -> Result<Vec<FileChange>, FilesError> {
    if changes.is_empty() {
        return Err(FilesError::BatchInvalid(
            "the batch has no changes; send at least one".to_owned(),
        ));
    }
    let changes = changes
        .into_iter()
        .enumerate()
        .map(|(index, change)| parse_change(index, change, limits))
        .collect::<Result<Vec<FileChange>, FilesError>>()?;
    refuse_duplicates(&changes)?;
    Ok(changes)
}

/// Two changes to one path would leave the result to their order: the
/// caller meant one of them, so it is asked to send only that one.
fn refuse_duplicates(changes: &[FileChange]) -> Result<(), FilesError> {
    let mut first_index_of = HashMap::with_capacity(changes.len());
    for (index, change) in changes.iter().enumerate() {
        if let Some(first) = first_index_of.insert(change.path.as_str(), index) {
            return Err(FilesError::BatchInvalid(format!(
                "changes {first} and {index} both name {:?}; send each path at most once per batch",
                change.path.as_str()
            )));
        }
    }
    Ok(())
}

fn parse_change(
    index: usize,
    change: BatchChange,
    limits: &Limits,
) -> Result<FileChange, FilesError> {
    let subject = Subject {
        index: Some(index),
        path: change.path,
    };
    let path = match FilePath::parse(&subject.path) {
        Ok(path) => path,
        Err(source) => return Err(FilesError::PathInvalid { subject, source }),
    };
    let content = match (change.content, change.content_base64, change.delete) {
        (Some(text), None, None | Some(false)) => Some(Bytes::from(text)),
        (None, Some(encoded), None | Some(false)) => match BASE64.decode(encoded.as_bytes()) {
            Ok(bytes) => Some(Bytes::from(bytes)),
            Err(error) => {
                return Err(FilesError::BatchInvalid(format!(
                    "{subject}: content_base64 is not valid base64 ({error}); use standard base64 with padding"
                )));
            }
        },
        (None, None, Some(true)) => None,
        _ => {
            return Err(FilesError::BatchInvalid(format!(
                "{subject}: give exactly one of \"content\", \"content_base64\" or \"delete\": true"
            )));
        }
    };
    if let Some(bytes) = &content {
        limits.check_file_size(&subject, bytes.len())?;
    }
    Ok(FileChange {
        path,
        content: content.map(blob_of),
    })
}
