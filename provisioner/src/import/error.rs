//! What an import refuses, in words that say what to change. The token is
//! never part of a message: git's own output is reduced to a reason first.

use crate::files::FilesError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    RequestInvalid(String),
    #[error(
        "the repository {url} was not found or is not accessible ({token}); check the URL{hint}"
    )]
    RepositoryNotAccessible {
        url: String,
        token: &'static str,
        hint: &'static str,
    },
    #[error(
        "the ref {reference:?} was not found in {url}; its default branch is {default_branch:?}"
    )]
    RefNotFound {
        url: String,
        reference: String,
        default_branch: String,
    },
    #[error("{url} has no directory {subdir:?} at {commit}; check \"subdir\"")]
    SubdirNotFound {
        url: String,
        subdir: String,
        commit: String,
    },
    #[error(
        "not a web project: the imported tree has neither package.json nor index.html at its root; \
         point \"subdir\" at the app's directory"
    )]
    NotAWebProject,
    #[error("saving the repository's files failed: {0}")]
    Files(#[from] FilesError),
    #[error("git {step} failed: {reason}")]
    Git { step: &'static str, reason: String },
    /// The preview did not come up (its state and error, as the preview says them).
    #[error("{0}")]
    Boot(String),
}

impl ImportError {
    pub(crate) fn not_accessible(url: &str, token_given: bool) -> ImportError {
        ImportError::RepositoryNotAccessible {
            url: url.to_owned(),
            token: if token_given {
                "a token was given"
            } else {
                "no token was given"
            },
            hint: if token_given {
                " and that the token may read it"
            } else {
                ", or pass \"token\" for a private repository"
            },
        }
    }
}
