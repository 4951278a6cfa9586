//! The machine every preview runs: one per Fly app `preview-<appId>`.
//!
//! Only non-secret settings go into the machine config (it is visible to
//! anyone who can read the app, and it is logged by Fly's tooling). The sync
//! token and the provisioner's URL travel as app secrets; see `SECRET_*`.

use std::collections::BTreeMap;

use sync_protocol::AppId;

use super::types::{
    Autostop, CreateMachineRequest, MachineConfig, MachineGuest, MachinePort, MachineRestart,
    MachineService, MachineServiceCheck, StopConfig,
};
use super::{FlyArgs, Identity};

/// Metadata key naming the app a machine previews; also the list filter.
pub const METADATA_APP_ID: &str = "preview_app_id";
/// Metadata key naming the deployment (`--deployment`) a machine belongs to.
pub const METADATA_DEPLOYMENT: &str = "preview_deployment";
/// Metadata key marking machines this provisioner manages.
pub const METADATA_MANAGED_BY: &str = "managed_by";
pub const MANAGED_BY_VALUE: &str = "preview-provisioner";

/// App secret holding the daemon's sync token.
pub const SECRET_SYNC_TOKEN: &str = "SYNC_TOKEN";
/// App secret holding the URL the daemon pulls files from.
pub const SECRET_SERVER_URL: &str = "SYNC_SERVER_URL";

/// Signal and grace period on stop: the daemon answers SIGTERM by stopping the
/// dev server's process group, which Fly's default (SIGINT, 5 s) can cut short.
pub const STOP_SIGNAL: &str = "SIGTERM";
pub const STOP_TIMEOUT: &str = "30s";

/// Where the runtime image keeps the app's files.
pub const SYNC_DIR: &str = "/app";

/// The preview gateway's own health route (`sync-daemon` `gateway`): `200`
/// whenever the gateway runs, whatever the dev server is doing.
pub const GATEWAY_HEALTH_PATH: &str = "/__preview/health";

/// The service check Fly's proxy runs against the gateway: a machine whose
/// check does not pass gets no traffic, and the driver waits for it to pass
/// before calling a start done ("started" is not "answering").
fn gateway_check(port: u16) -> MachineServiceCheck {
    MachineServiceCheck {
        kind: Some("http".to_owned()),
        port: Some(port),
        method: Some("GET".to_owned()),
        path: Some(GATEWAY_HEALTH_PATH.to_owned()),
        interval: Some("10s".to_owned()),
        timeout: Some("2s".to_owned()),
        grace_period: Some("5s".to_owned()),
    }
}

/// Everything about a preview machine that comes from configuration.
#[derive(Clone, Debug)]
pub struct PreviewMachineSettings {
    pub image: String,
    pub region: String,
    pub cpus: u32,
    pub memory_mb: u32,
    /// Fly's proxy autostop. `Off` unless a caller wants Fly to own idleness:
    /// the proxy sees only inbound proxied requests, not the editor's
    /// heartbeats nor the daemon's outbound long-poll, so the provisioner's
    /// idle reaper is the one owner (docs `launch/autostop-autostart`).
    pub autostop: Autostop,
    /// The dev server's port inside the machine.
    pub port: u16,
}

impl PreviewMachineSettings {
    /// The settings `serve` runs with: the lifecycle's idle reaper stops or
    /// suspends idle previews, so Fly's proxy autostop is off (autostart stays on).
    pub fn from_args(args: &FlyArgs) -> PreviewMachineSettings {
        PreviewMachineSettings {
            image: args.preview_image.clone(),
            region: args.fly_region.clone(),
            cpus: args.preview_cpus,
            memory_mb: args.preview_memory_mb,
            autostop: Autostop::Off,
            port: args.preview_port,
        }
    }
}

impl Default for PreviewMachineSettings {
    /// Shared 1 CPU and 1024 MB: small, and under the 2 GB suspend allows.
    fn default() -> PreviewMachineSettings {
        PreviewMachineSettings {
            image: "registry.fly.io/preview-runtime:latest".to_owned(),
            region: "iad".to_owned(),
            cpus: 1,
            memory_mb: 1024,
            autostop: Autostop::Off,
            port: 3000,
        }
    }
}

/// Fly sizes memory in 256 MB units, and suspends machines of at most 2048 MB.
pub fn check_memory_mb(memory_mb: u32) -> Result<(), String> {
    if memory_mb == 0 || !memory_mb.is_multiple_of(256) || memory_mb > 2048 {
        return Err(format!(
            "--preview-memory-mb (PREVIEW_MEMORY_MB) {memory_mb} must be a multiple of 256 \
             from 256 to 2048 (Fly sizes memory in 256 MB units and suspends at most 2048 MB)"
        ));
    }
    Ok(())
}

/// The metadata every preview machine carries (and is found by).
pub fn preview_metadata(app_id: &AppId, identity: &Identity) -> BTreeMap<String, String> {
    BTreeMap::from([
        (METADATA_APP_ID.to_owned(), app_id.to_string()),
        (METADATA_MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
        (
            METADATA_DEPLOYMENT.to_owned(),
            identity.deployment().to_owned(),
        ),
    ])
}

/// The create-machine request for `app_id`'s preview. `secrets_version` is
/// what setting the secrets returned, so the machine boots with them.
pub fn preview_machine_request(
    settings: &PreviewMachineSettings,
    identity: &Identity,
    app_id: &AppId,
    secrets_version: Option<i64>,
) -> CreateMachineRequest {
    let env = BTreeMap::from([
        ("SYNC_APP_ID".to_owned(), app_id.to_string()),
        ("SYNC_DIR".to_owned(), SYNC_DIR.to_owned()),
        ("PORT".to_owned(), settings.port.to_string()),
    ]);
    let service = MachineService {
        protocol: Some("tcp".to_owned()),
        internal_port: Some(settings.port),
        ports: vec![
            MachinePort {
                port: Some(443),
                handlers: vec!["tls".to_owned(), "http".to_owned()],
                force_https: None,
            },
            MachinePort {
                port: Some(80),
                handlers: vec!["http".to_owned()],
                force_https: None,
            },
        ],
        autostart: Some(true),
        autostop: Some(settings.autostop),
        min_machines_running: Some(0),
        checks: vec![gateway_check(settings.port)],
    };
    CreateMachineRequest {
        config: MachineConfig {
            image: settings.image.clone(),
            env,
            guest: Some(MachineGuest {
                cpu_kind: Some("shared".to_owned()),
                cpus: Some(settings.cpus),
                memory_mb: Some(settings.memory_mb),
            }),
            services: vec![service],
            restart: Some(MachineRestart {
                policy: Some("on-failure".to_owned()),
                max_retries: None,
            }),
            metadata: preview_metadata(app_id, identity),
            // The machine must survive stop and suspend, so it never destroys itself.
            auto_destroy: None,
            stop_config: Some(StopConfig {
                signal: Some(STOP_SIGNAL.to_owned()),
                timeout: Some(STOP_TIMEOUT.to_owned()),
            }),
        },
        name: Some(identity.app_name(app_id)),
        region: Some(settings.region.clone()),
        min_secrets_version: secrets_version,
        skip_launch: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_a_multiple_of_256_up_to_what_suspend_allows() {
        for (memory_mb, ok) in [
            (256, true),
            (1024, true),
            (2048, true),
            (0, false),
            (1000, false),
            (2304, false),
        ] {
            assert_eq!(check_memory_mb(memory_mb).is_ok(), ok, "{memory_mb}");
        }
        assert!(
            check_memory_mb(1000)
                .unwrap_err()
                .contains("PREVIEW_MEMORY_MB")
        );
    }

    #[test]
    fn preview_machine_shape() {
        let app_id = AppId::parse("demo").unwrap();
        let identity = Identity::new("production", "preview-").unwrap();
        let settings = PreviewMachineSettings::default();
        let request = preview_machine_request(&settings, &identity, &app_id, Some(7));
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["region"], "iad");
        assert_eq!(json["min_secrets_version"], 7);
        let config = &json["config"];
        assert_eq!(
            config["guest"],
            serde_json::json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 1024})
        );
        assert_eq!(config["services"][0]["internal_port"], 3000);
        assert_eq!(config["services"][0]["autostop"], "off");
        assert_eq!(config["services"][0]["autostart"], true);
        assert_eq!(
            config["services"][0]["ports"][0]["handlers"],
            serde_json::json!(["tls", "http"])
        );
        assert_eq!(
            config["services"][0]["checks"][0],
            serde_json::json!({"type": "http", "port": 3000, "method": "GET",
                "path": "/__preview/health", "interval": "10s", "timeout": "2s", "grace_period": "5s"})
        );
        assert_eq!(config["metadata"][METADATA_APP_ID], "demo");
        assert_eq!(config["metadata"][METADATA_DEPLOYMENT], "production");
        assert_eq!(json["name"], "preview-demo");
        assert_eq!(config["restart"]["policy"], "on-failure");
        assert_eq!(
            config["stop_config"],
            serde_json::json!({"signal": "SIGTERM", "timeout": "30s"})
        );
        // Secrets never appear in the machine config.
        let text = json.to_string();
        assert!(!text.contains(SECRET_SYNC_TOKEN) && !text.contains(SECRET_SERVER_URL));
    }
}
