//! `POST /v1/apps/{appId}/import`: a git repository's ref saved as the app's
//! files, then its preview provisioned (the `boot` step). The answer holds
//! every step with its timing and log line, what was detected, and the
//! preview; a refusal is the documented error naming the step that failed.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use sync_protocol::AppId;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Operator;
use super::files::{BodyKind, body_rejection};
use super::openapi::{AppPath, ErrorResponse};
use super::{ApiError, AppState};
use crate::import::{
    ImportError, ImportReport, ImportRequest, ImportStep, ImportStepStatus, import_files,
};
use crate::lifecycle::model::PreviewState;
use crate::lifecycle::unshare;
use crate::lifecycle::view::PreviewView;

/// The longest the boot step waits for the preview before answering.
const BOOT_WAIT: Duration = Duration::from_secs(60);

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
    let mut report = match import_files(&state.files, &app_id, &request).await {
        Ok(report) => report,
        Err(failure) => {
            let step = failure
                .report
                .steps
                .last()
                .map_or("validate", |step| step.name);
            tracing::info!(step, code = code(&failure.error), "import refused");
            return Err(refusal(step, failure.error));
        }
    };
    let started = Instant::now();
    let lifecycle = &state.lifecycle;
    let in_flight = lifecycle.provision(&app_id).await?;
    let record = match tokio::time::timeout(BOOT_WAIT, in_flight).await {
        Ok(outcome) => outcome.map_err(unshare)?,
        Err(_) => lifecycle.get(&app_id).await?,
    };
    let running = record.state == PreviewState::Running;
    report.steps.push(ImportStep {
        name: "boot",
        status: if running {
            ImportStepStatus::Done
        } else {
            ImportStepStatus::Failed
        },
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        log: match &record.error {
            Some(error) => format!("preview {}: {error}", record.state),
            None => format!("preview {}", record.state),
        },
    });
    let preview = lifecycle.view(record).await?;
    Ok(Json(ImportResponse {
        import: report,
        preview,
    }))
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
