//! Import from git: a repository's ref becomes the app's files (one
//! revision, through the same write path, limits and path rules as every
//! other write) and then its preview. Each import runs named steps
//! (validate, fetch, detect, save, boot) and records each one's status,
//! timing and log line in the app's import record (`record`, kept by the
//! `ImportStore` as each step starts and ends), so the preview resource and
//! its event stream show where it is, where it stopped and why.
//!
//! A retry is the same `POST .../import` again: validate and fetch run
//! again (nothing was kept of a failed fetch, and the token is never kept),
//! save writes nothing when the commit is unchanged, and boot resumes the
//! preview's provisioning at the step it stopped at.
//!
//! The token is used for the fetch alone: it travels to git in the
//! environment, and appears in no step log, error, report or record.

mod detect;
mod error;
mod git;
mod record;
pub mod tree;

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Deserialize;
use sync_protocol::AppId;

pub use detect::{Project, detect};
pub use error::ImportError;
pub use record::{ImportReport, ImportStep, ImportStepStatus};

use crate::files::FilesService;
use crate::store::ImportStore;

/// `POST /v1/apps/{appId}/import`.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub git: GitSource,
    /// For a private repository; used for the fetch only.
    #[serde(default)]
    pub token: Option<String>,
}

impl std::fmt::Debug for ImportRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportRequest")
            .field("git", &self.git)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GitSource {
    pub url: String,
    /// A branch or tag; the default branch when absent.
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// The app's directory inside the repository, when not its root.
    #[serde(default)]
    pub subdir: Option<String>,
}

/// A failed import: the steps up to the failed one, and why.
#[derive(Debug)]
pub struct ImportFailure {
    pub report: ImportReport,
    pub error: ImportError,
}

/// Runs validate, fetch, detect and save, recording each step; the caller
/// boots the preview (the `boot` step, [`StepRun::step`]) once the files are in.
pub async fn import_files(
    files: &FilesService,
    run: &mut StepRun<'_>,
    request: &ImportRequest,
) -> Result<(), Box<ImportFailure>> {
    let app_id = run.app_id.clone();
    let source = git::Source {
        url: &request.git.url,
        token: request.token.as_deref().filter(|token| !token.is_empty()),
    };
    let subdir = run.step("validate", validate(&request.git)).await?;
    run.report.subdir.clone_from(&subdir);
    let (full_ref, reference) = run
        .step(
            "validate",
            resolve_ref(&source, request.git.reference.as_deref()),
        )
        .await?;
    run.report.reference = reference;
    let (commit, wanted) = run
        .step("fetch", fetch_tree(&source, &full_ref, subdir.as_deref()))
        .await?;
    run.report.commit = Some(commit);
    let project = run
        .step("detect", async { detect_project(&wanted) })
        .await?;
    run.report.project = Some(project);
    let (revision, changed) = run.step("save", save(files, &app_id, &wanted)).await?;
    run.report.revision = Some(revision);
    run.report.changed = changed;
    Ok(())
}

/// An import under way: records each step as it starts (`running`) and
/// ends (`done` or `failed`, with its timing and log line), saving the
/// report each time so the preview resource and its events show it.
pub struct StepRun<'a> {
    imports: &'a dyn ImportStore,
    app_id: AppId,
    pub report: ImportReport,
}

/// What a step says about itself when it succeeds.
pub trait StepLog {
    fn log(&self) -> String;
}

impl<'a> StepRun<'a> {
    pub fn new(imports: &'a dyn ImportStore, app_id: &AppId, git: &GitSource) -> StepRun<'a> {
        StepRun {
            imports,
            app_id: app_id.clone(),
            report: ImportReport {
                repository: git.url.clone(),
                reference: git.reference.clone().unwrap_or_default(),
                ..ImportReport::default()
            },
        }
    }

    /// Runs one step, recorded before and after.
    pub async fn step<T: StepLog>(
        &mut self,
        name: &'static str,
        work: impl Future<Output = Result<T, ImportError>>,
    ) -> Result<T, Box<ImportFailure>> {
        let started = Instant::now();
        self.report.steps.push(ImportStep {
            name: name.to_owned(),
            status: ImportStepStatus::Running,
            duration_ms: 0,
            log: String::new(),
        });
        self.save().await;
        let result = work.await;
        let (status, log) = match &result {
            Ok(value) => (ImportStepStatus::Done, value.log()),
            Err(error) => (ImportStepStatus::Failed, error.to_string()),
        };
        if let Some(step) = self.report.steps.last_mut() {
            step.status = status;
            step.duration_ms = elapsed_ms(started);
            step.log = log;
        }
        self.save().await;
        result.map_err(|error| {
            Box::new(ImportFailure {
                report: self.report.clone(),
                error,
            })
        })
    }

    /// Keeps the report; an import goes on when its record cannot be saved.
    async fn save(&self) {
        if let Err(error) = self.imports.save_import(&self.app_id, &self.report).await {
            tracing::warn!(app_id = %self.app_id, %error, "the import's step log was not saved");
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl StepLog for Option<String> {
    fn log(&self) -> String {
        match self {
            Some(subdir) => format!("URL accepted; importing the directory {subdir:?}"),
            None => "URL accepted".to_owned(),
        }
    }
}

impl StepLog for (String, String) {
    fn log(&self) -> String {
        format!("ref {} found", self.0)
    }
}

impl StepLog for (String, BTreeMap<String, Vec<u8>>) {
    fn log(&self) -> String {
        format!(
            "fetched commit {}: {} files to import",
            self.0,
            self.1.len()
        )
    }
}

impl StepLog for Project {
    fn log(&self) -> String {
        match &self.package_manager {
            Some(manager) => format!("{} project, {manager}", self.project_type),
            None => format!("{} project", self.project_type),
        }
    }
}

impl StepLog for (u64, u64) {
    fn log(&self) -> String {
        format!("revision {}: {} files changed", self.0, self.1)
    }
}

/// The URL's scheme and shape, and the subdir's; answers the subdir.
fn validate(git: &GitSource) -> impl Future<Output = Result<Option<String>, ImportError>> + use<> {
    let result = check_source(git);
    async move { result }
}

fn check_source(git: &GitSource) -> Result<Option<String>, ImportError> {
    let invalid = |message: String| Err(ImportError::RequestInvalid(message));
    let Ok(url) = url::Url::parse(&git.url) else {
        return invalid(format!(
            "{:?} is not a URL; use https://host/owner/repo.git",
            git.url
        ));
    };
    if !matches!(url.scheme(), "https" | "http" | "git") {
        return invalid(format!(
            "the URL scheme {:?} is not supported; use https://, http:// or git://",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return invalid(
            "the URL holds credentials; pass the token in \"token\" instead".to_owned(),
        );
    }
    if let Some(reference) = &git.reference
        && (reference.is_empty()
            || reference.starts_with('-')
            || reference.contains("..")
            || reference
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c)))
    {
        return invalid(format!("{reference:?} is not a branch or tag name"));
    }
    match git.subdir.as_deref().map(|subdir| subdir.trim_matches('/')) {
        None | Some("") => Ok(None),
        Some(subdir) => match sync_protocol::FilePath::parse(subdir) {
            Ok(_) => Ok(Some(subdir.to_owned())),
            Err(error) => invalid(format!("subdir {subdir:?}: {error}")),
        },
    }
}

/// The full ref to fetch and its short name: the asked branch or tag, else
/// the default branch.
async fn resolve_ref(
    source: &git::Source<'_>,
    reference: Option<&str>,
) -> Result<(String, String), ImportError> {
    let remote = source.ls_remote().await?;
    let wanted = reference.unwrap_or(&remote.default_branch);
    let candidates = [
        format!("refs/heads/{wanted}"),
        format!("refs/tags/{wanted}"),
    ];
    match candidates
        .into_iter()
        .find(|candidate| remote.refs.contains(candidate))
    {
        Some(full_ref) => Ok((full_ref, wanted.to_owned())),
        None => Err(ImportError::RefNotFound {
            url: source.url.to_owned(),
            reference: wanted.to_owned(),
            default_branch: remote.default_branch,
        }),
    }
}

/// Fetches and reads the files to import, by app path.
async fn fetch_tree(
    source: &git::Source<'_>,
    full_ref: &str,
    subdir: Option<&str>,
) -> Result<(String, BTreeMap<String, Vec<u8>>), ImportError> {
    let checkout = tempfile::tempdir().map_err(|error| ImportError::Git {
        step: "fetch",
        reason: format!("cannot make a scratch directory: {error}"),
    })?;
    let dir = checkout.path();
    let commit = source.fetch(full_ref, dir).await?;
    let mut wanted = BTreeMap::new();
    for path in source.tracked_files(dir).await? {
        let Some(app_path) = tree::app_path(&path, subdir) else {
            continue;
        };
        let content = tokio::fs::read(dir.join(&path))
            .await
            .map_err(|error| ImportError::Git {
                step: "checkout",
                reason: format!("cannot read {path:?}: {error}"),
            })?;
        wanted.insert(app_path, content);
    }
    if let Some(subdir) = subdir
        && wanted.is_empty()
    {
        return Err(ImportError::SubdirNotFound {
            url: source.url.to_owned(),
            subdir: subdir.to_owned(),
            commit,
        });
    }
    Ok((commit, wanted))
}

fn detect_project(wanted: &BTreeMap<String, Vec<u8>>) -> Result<Project, ImportError> {
    let paths: Vec<&str> = wanted.keys().map(String::as_str).collect();
    let package_json = wanted.get("package.json").map(Vec::as_slice);
    detect(&paths, package_json).ok_or(ImportError::NotAWebProject)
}

/// One revision holding exactly the imported files; answers it and how
/// many files changed.
async fn save(
    files: &FilesService,
    app_id: &AppId,
    wanted: &BTreeMap<String, Vec<u8>>,
) -> Result<(u64, u64), ImportError> {
    let current: BTreeMap<String, String> = files
        .manifest(app_id)
        .await?
        .files
        .into_iter()
        .map(|entry| (entry.path.as_str().to_owned(), entry.sha256))
        .collect();
    let changes = tree::batch_changes(wanted, &current);
    if changes.is_empty() {
        return Ok((files.revision(app_id).await?, 0));
    }
    let outcome = files.batch(app_id, changes).await?;
    Ok((outcome.revision, outcome.changed))
}
