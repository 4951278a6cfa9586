//! What the background tasks did last: one entry per registered task,
//! replaced after each activation. Read by `/metrics` and `GET /v1/status`,
//! so an operator sees that the reconciler ran a minute ago and what it
//! repaired, or that the reaper has failed to list the store since noon.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

/// What an activation reports about itself.
pub trait TaskSummary: Serialize {
    /// Actions of this pass that failed (each one logged where it failed).
    fn failed(&self) -> usize;
    /// Why the pass could not run at all (the store or the platform unreadable).
    fn error(&self) -> Option<&str>;
}

/// A registered task and its last activation.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TaskStatus {
    pub name: &'static str,
    pub period_ms: u64,
    /// Activations completed since the provisioner started.
    pub runs: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_started_at: Option<OffsetDateTime>,
    pub last_duration_ms: Option<u64>,
    /// The last activation's summary, as the task reports it.
    pub last_summary: Option<serde_json::Value>,
    /// Actions of the last activation that failed.
    pub last_failed: usize,
    /// Why the last activation could not run, if it could not.
    pub last_error: Option<String>,
    /// Whether this instance holds the task's lease (runs it) at its last tick.
    pub leased: bool,
}

#[derive(Debug, Default)]
pub struct TaskRegistry {
    /// A std mutex: held for one map update, never across an await.
    tasks: Mutex<BTreeMap<&'static str, TaskStatus>>,
}

impl TaskRegistry {
    /// Lists `name` (before its first activation, so it shows as never run).
    pub fn register(&self, name: &'static str, period: Duration) {
        self.lock().insert(
            name,
            TaskStatus {
                name,
                period_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
                runs: 0,
                last_started_at: None,
                last_duration_ms: None,
                last_summary: None,
                last_failed: 0,
                last_error: None,
                leased: false,
            },
        );
    }

    /// Keeps the outcome of an activation of `name` that began at `started_at`.
    pub fn record(
        &self,
        name: &'static str,
        started_at: OffsetDateTime,
        took: Duration,
        summary: &impl TaskSummary,
    ) {
        let mut tasks = self.lock();
        let Some(status) = tasks.get_mut(name) else {
            return;
        };
        status.runs += 1;
        status.last_started_at = Some(started_at);
        status.last_duration_ms = Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
        status.last_summary = serde_json::to_value(summary).ok();
        status.last_failed = summary.failed();
        status.last_error = summary.error().map(str::to_owned);
    }

    /// Every registered task, by name.
    pub fn set_leased(&self, name: &'static str, leased: bool) {
        if let Some(status) = self.lock().get_mut(name) {
            status.leased = leased;
        }
    }

    pub fn snapshot(&self) -> Vec<TaskStatus> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, TaskStatus>> {
        self.tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Pass {
        repaired: usize,
        failed: usize,
        error: Option<String>,
    }

    impl TaskSummary for Pass {
        fn failed(&self) -> usize {
            self.failed
        }
        fn error(&self) -> Option<&str> {
            self.error.as_deref()
        }
    }

    #[test]
    fn a_registered_task_shows_its_last_activation() {
        let registry = TaskRegistry::default();
        registry.register("reconciler", Duration::from_secs(30));
        let never_ran = registry.snapshot();
        let started_at = OffsetDateTime::UNIX_EPOCH;
        let pass = Pass {
            repaired: 2,
            failed: 1,
            error: None,
        };
        registry.record("reconciler", started_at, Duration::from_millis(7), &pass);
        let broken = Pass {
            repaired: 0,
            failed: 0,
            error: Some("listing previews failed".to_owned()),
        };
        registry.record("reconciler", started_at, Duration::from_millis(3), &broken);
        registry.record("unregistered", started_at, Duration::ZERO, &pass);

        assert_eq!(never_ran[0].runs, 0);
        assert_eq!(never_ran[0].last_started_at, None);
        let [status] = registry.snapshot().try_into().expect("one task");
        assert_eq!(status.name, "reconciler");
        assert_eq!(status.period_ms, 30_000);
        assert_eq!(status.runs, 2);
        assert_eq!(status.last_duration_ms, Some(3));
        assert_eq!(status.last_summary.unwrap()["repaired"], 0);
        assert_eq!(status.last_failed, 0);
        assert_eq!(
            status.last_error.as_deref(),
            Some("listing previews failed")
        );
    }
}
