//! `GET /v1/status` (operator only): which platform previews run on and how
//! each background task last ran, so an operator can tell a quiet
//! reconciler from a dead one. `/metrics` shows the same figures as gauges.

use std::fmt::Write;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Operator;
use crate::lifecycle::tasks::TaskStatus;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(status))
}

#[derive(Debug, Serialize, ToSchema)]
struct Status {
    /// `fly` or `local`.
    #[schema(pattern = "^(fly|local)$")]
    driver: &'static str,
    tasks: Vec<TaskStatus>,
}

/// The platform and each background task's last run.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "operations",
    operation_id = "get_status",
    responses((status = 200, description = "The platform and the tasks", body = Status)),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn status(_operator: Operator, State(state): State<AppState>) -> Json<Status> {
    Json(Status {
        driver: match state.config.driver_kind() {
            crate::config::DriverKind::Fly => "fly",
            crate::config::DriverKind::Local => "local",
        },
        tasks: state.lifecycle.tasks().snapshot(),
    })
}

/// The tasks' last activations in Prometheus text format: runs, when the
/// last one started, how long it took, its failures and error, and each
/// number of its summary.
pub(super) fn write_task_metrics(text: &mut String, tasks: &[TaskStatus]) {
    text.push_str(
        "# HELP provisioner_task_runs_total Background task activations completed.\n\
         # TYPE provisioner_task_runs_total counter\n",
    );
    for task in tasks {
        let _ = writeln!(
            text,
            "provisioner_task_runs_total{{task=\"{}\"}} {}",
            task.name, task.runs
        );
    }
    text.push_str(
        "# HELP provisioner_task_last_run_timestamp_seconds When the last activation started.\n\
         # TYPE provisioner_task_last_run_timestamp_seconds gauge\n",
    );
    for task in tasks {
        if let Some(started) = task.last_started_at {
            let seconds = started.unix_timestamp_nanos() as f64 / 1e9;
            let _ = writeln!(
                text,
                "provisioner_task_last_run_timestamp_seconds{{task=\"{}\"}} {seconds:.3}",
                task.name
            );
        }
    }
    text.push_str(
        "# HELP provisioner_task_last_failed Actions of the last activation that failed; \
         1 more when it could not run at all.\n\
         # TYPE provisioner_task_last_failed gauge\n",
    );
    for task in tasks {
        let failed = task.last_failed + usize::from(task.last_error.is_some());
        let _ = writeln!(
            text,
            "provisioner_task_last_failed{{task=\"{}\"}} {failed}",
            task.name
        );
    }
    text.push_str(
        "# HELP provisioner_task_last_summary The numbers of the last activation's summary.\n\
         # TYPE provisioner_task_last_summary gauge\n",
    );
    for task in tasks {
        let Some(serde_json::Value::Object(summary)) = &task.last_summary else {
            continue;
        };
        for (field, value) in summary {
            if let Some(number) = value.as_u64() {
                let _ = writeln!(
                    text,
                    "provisioner_task_last_summary{{task=\"{}\",field=\"{field}\"}} {number}",
                    task.name
                );
            }
        }
    }
}
