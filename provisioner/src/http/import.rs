//! `POST /v1/apps/{appId}/import`: a git repository's ref saved as the app's
//! files, then its preview provisioned (the `boot` step). The answer holds
//! every step with its timing and log line, what was detected, and the
//! preview; a refusal is the documented error naming the step that failed.

use std::time::Duration;

use std::convert::Infallible;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::Event;
use futures::Stream;
use serde::Serialize;
use sync_protocol::AppId;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Operator;
use super::files::{BodyKind, body_rejection};
use super::openapi::{AppPath, ErrorResponse};
use super::{ApiError, AppState};
use crate::import::{ImportError, ImportReport, ImportRequest, StepLog, StepRun, import_files};
use crate::lifecycle::model::{PreviewRecord, PreviewState};
use crate::lifecycle::view::PreviewView;

/// The longest the boot step waits for the preview before answering.
const BOOT_WAIT: Duration = Duration::from_secs(60);
/// How often an event stream reads the import record.
const POLL: Duration = Duration::from_millis(100);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import))
}

#[derive(Serialize, ToSchema)]
struct ImportResponse {
    import: ImportReport,
    preview: PreviewView,
}

/// Saves a git ref as the app's files (one revision), then boots its preview.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/import",
    tag = "import",
    operation_id = "import_git",
    params(AppPath),
    request_body = ImportRequest,
    responses(
        (status = 200, description = "Imported: every step with its timing and log, what was detected, and the preview", body = ImportResponse),
        (status = 400, description = "`import_invalid`, and the files refusals (`path_invalid`, `batch_invalid`)", body = ErrorResponse),
        (status = 409, description = "`file_directory_conflict`", body = ErrorResponse),
        (status = 413, description = "`file_too_large`, `app_file_limit`, `app_size_limit`", body = ErrorResponse),
        (status = 422, description = "`repository_not_accessible`, `ref_not_found`, `subdir_not_found`, `not_a_web_project`; the message names the failed step", body = ErrorResponse),
        (status = 502, description = "`git_failed`, `platform_error`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn import(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Result<Json<ImportRequest>, JsonRejection>,
) -> Result<Json<ImportResponse>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let Json(request) = body.map_err(|rejection| {
        body_rejection(rejection.status(), rejection.body_text(), BodyKind::Json)
    })?;
    let mut run = StepRun::new(state.imports.as_ref(), &app_id, &request.git);
    if let Err(failure) = import_files(&state.files, &mut run, &request).await {
        let step = failure
            .report
            .failed_step()
            .map_or("validate", |step| step.name.as_str());
        tracing::info!(step, code = code(&failure.error), "import refused");
        return Err(refusal(step, failure.error));
    }
    let lifecycle = &state.lifecycle;
    let booted = run.step("boot", boot(&state, &app_id)).await;
    let record = match booted {
        Ok(Booted(record)) => record,
        // Still provisioning after the wait, or failed: the step says which.
        Err(_) => lifecycle.get(&app_id).await?,
    };
    let preview = lifecycle.view(record).await?;
    Ok(Json(ImportResponse {
        import: run.report,
        preview,
    }))
}

/// A preview that reached `running` within the boot wait.
struct Booted(PreviewRecord);

impl StepLog for Booted {
    fn log(&self) -> String {
        format!("preview {}", self.0.state)
    }
}

/// Provisions (or resumes provisioning) and waits up to [`BOOT_WAIT`]; a
/// preview not running by then fails the step with its state and error.
async fn boot(state: &AppState, app_id: &AppId) -> Result<Booted, ImportError> {
    let lifecycle = &state.lifecycle;
    let failed = |reason: String| ImportError::Boot(reason);
    let in_flight = lifecycle
        .provision(app_id)
        .await
        .map_err(|error| failed(error.to_string()))?;
    let record = match tokio::time::timeout(BOOT_WAIT, in_flight).await {
        Ok(Ok(record)) => record,
        Ok(Err(_)) | Err(_) => lifecycle
            .get(app_id)
            .await
            .map_err(|error| failed(error.to_string()))?,
    };
    match (record.state, &record.error) {
        (PreviewState::Running, _) => Ok(Booted(record)),
        (state, Some(error)) => Err(failed(format!("preview {state}: {error}"))),
        (state, None) => Err(failed(format!(
            "preview still {state} after {} s; follow it in GET .../preview",
            BOOT_WAIT.as_secs()
        ))),
    }
}

/// Whether the app has an import record (its preview may not exist yet).
pub(super) async fn is_importing(state: &AppState, app_id: &AppId) -> Result<bool, ApiError> {
    Ok(state.imports.last_import(app_id).await?.is_some())
}

/// `import` events for the preview's event stream: the app's import report
/// each time it changes (steps starting and ending), read every [`POLL`].
pub(super) fn events(
    state: AppState,
    app_id: AppId,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(
        (state, app_id, None::<ImportReport>),
        |(state, app_id, last)| async move {
            loop {
                let report = state.imports.last_import(&app_id).await.ok().flatten();
                if report.is_some() && report != last {
                    let event = Event::default()
                        .event("import")
                        .json_data(&report)
                        .unwrap_or_else(|_| Event::default().event("import").data("{}"));
                    return Some((Ok(event), (state, app_id, report)));
                }
                tokio::time::sleep(POLL).await;
            }
        },
    )
}

fn code(error: &ImportError) -> &'static str {
    match error {
        ImportError::RequestInvalid(_) => "import_invalid",
        ImportError::RepositoryNotAccessible { .. } => "repository_not_accessible",
        ImportError::RefNotFound { .. } => "ref_not_found",
        ImportError::SubdirNotFound { .. } => "subdir_not_found",
        ImportError::NotAWebProject => "not_a_web_project",
        ImportError::Files(_) => "files_refused",
        ImportError::Git { .. } => "git_failed",
        ImportError::Boot(_) => "boot_failed",
    }
}

/// The error answer, its message prefixed with the step that failed.
fn refusal(step: &str, error: ImportError) -> ApiError {
    let code = code(&error);
    let message = format!("import step {step:?} failed: {error}");
    match error {
        ImportError::RequestInvalid(_) => ApiError::bad_request(code, message),
        ImportError::Files(files) => {
            let mut api = ApiError::from(files);
            api.message = format!("import step {step:?} failed: {}", api.message);
            api
        }
        ImportError::Git { .. } => ApiError::new(StatusCode::BAD_GATEWAY, code, message),
        _ => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
    }
}
