//! What a machine says about itself beyond its state: the answer to a
//! start, its events (exits, restarts), its checks, its image, and the
//! service check the preview's gateway answers. Shapes from the spec and
//! fly-go `machine_types.go` (`MachineEvent`, `MachineRequest`,
//! `MachineExitEvent`, `MachineImageRef`).

use serde::{Deserialize, Serialize};

/// The answer to `POST …/start`. The spec gives it no schema; fly-go reads
/// `{message, status, previous_state}` and flyctl treats `status: "error"`
/// as a refusal (`internal/command/machine/start.go`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MachineStartResponse {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub previous_state: Option<String>,
}

/// `MachineEvent`: `launch`, `start`, `exit`, `stop`, `restart`, ...
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MachineEvent {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub timestamp: i64,
    #[serde(default)]
    pub request: Option<MachineEventRequest>,
}

/// fly-go `MachineRequest`: an exit's details and how often flyd restarted it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MachineEventRequest {
    #[serde(default)]
    pub exit_event: Option<MachineExitEvent>,
    #[serde(default)]
    pub restart_count: Option<u32>,
}

/// fly-go `MachineExitEvent`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MachineExitEvent {
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub oom_killed: bool,
    /// The exit followed a stop we (or the proxy) asked for: not a crash.
    #[serde(default)]
    pub requested_stop: bool,
    #[serde(default)]
    pub restarting: bool,
}

impl MachineEvent {
    /// The exit this event records, when it is an exit nobody asked for.
    pub fn crash(&self) -> Option<&MachineExitEvent> {
        if self.kind != "exit" {
            return None;
        }
        let exit = self.request.as_ref()?.exit_event.as_ref()?;
        (!exit.requested_stop && (exit.exit_code != 0 || exit.oom_killed)).then_some(exit)
    }

    pub fn restart_count(&self) -> Option<u32> {
        self.request.as_ref()?.restart_count
    }
}

/// `CheckStatus`: one check's latest result (`passing`, `warning`, `critical`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CheckStatus {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub output: Option<String>,
}

/// `ImageRef`: the image a machine runs, with the digest Fly resolved.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ImageRef {
    #[serde(default)]
    pub registry: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

impl ImageRef {
    /// `registry/repository@digest`, once Fly resolved a digest (fly-go
    /// `Machine.FullImageRef`): what a replacement machine should run, so a
    /// tag moved meanwhile does not change the preview under its user.
    pub fn pinned(&self) -> Option<String> {
        let digest = self.digest.as_deref().filter(|d| !d.is_empty())?;
        let repository = self.repository.as_deref().filter(|r| !r.is_empty())?;
        Some(match self.registry.as_deref().filter(|r| !r.is_empty()) {
            Some(registry) => format!("{registry}/{repository}@{digest}"),
            None => format!("{repository}@{digest}"),
        })
    }
}

/// `fly.MachineServiceCheck`: Fly's proxy routes to a machine only while its
/// service checks pass.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineServiceCheck {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unrequested_failing_exits_are_crashes() {
        let event = |json: &str| serde_json::from_str::<MachineEvent>(json).unwrap();
        let crash = event(
            r#"{"type":"exit","status":"stopped","timestamp":5,"request":{"exit_event":{"exit_code":3,"restarting":true},"restart_count":2}}"#,
        );
        assert_eq!(crash.crash().map(|exit| exit.exit_code), Some(3));
        assert_eq!(crash.restart_count(), Some(2));
        let asked = event(
            r#"{"type":"exit","request":{"exit_event":{"exit_code":143,"requested_stop":true}}}"#,
        );
        assert!(asked.crash().is_none());
        let clean = event(r#"{"type":"exit","request":{"exit_event":{"exit_code":0}}}"#);
        assert!(clean.crash().is_none());
        let oom =
            event(r#"{"type":"exit","request":{"exit_event":{"exit_code":0,"oom_killed":true}}}"#);
        assert!(oom.crash().is_some());
        assert!(event(r#"{"type":"start"}"#).crash().is_none());
    }

    #[test]
    fn an_image_is_pinned_by_digest_once_resolved() {
        let reference = ImageRef {
            registry: Some("registry.fly.io".to_owned()),
            repository: Some("preview-runtime".to_owned()),
            tag: Some("latest".to_owned()),
            digest: Some("sha256:abc".to_owned()),
        };
        assert_eq!(
            reference.pinned().as_deref(),
            Some("registry.fly.io/preview-runtime@sha256:abc")
        );
        let unresolved = ImageRef {
            digest: None,
            ..reference
        };
        assert_eq!(unresolved.pinned(), None);
    }
}
