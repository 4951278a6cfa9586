//! Bodies of the machine and lease operations.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::{CheckStatus, ImageRef, MachineEvent, MachineServiceCheck};

/// `CreateMachineRequest`.
#[derive(Clone, Debug, Serialize)]
pub struct CreateMachineRequest {
    pub config: MachineConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Secrets at least this new must be in place before the machine boots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_secrets_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_launch: Option<bool>,
}

/// `fly.MachineConfig` (the fields previews use).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineConfig {
    #[serde(default)]
    pub image: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<MachineGuest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<MachineService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<MachineRestart>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_destroy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_config: Option<StopConfig>,
}

/// `fly.StopConfig`: the signal Fly sends on stop and how long it waits before killing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StopConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// A Go duration such as `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// `fly.MachineGuest`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineGuest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
}

/// `fly.MachineService`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineService {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<MachinePort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostop: Option<Autostop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_machines_running: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<MachineServiceCheck>,
}

/// `fly.MachinePort`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachinePort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_https: Option<bool>,
}

/// `fly.MachineRestart`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineRestart {
    /// `no`, `always` or `on-failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
}

/// `fly.MachineService.autostop`. Sent as a string; Fly answers `"off"` and
/// `"stop"` as the legacy booleans `false` and `true`, so both are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Autostop {
    Off,
    Stop,
    Suspend,
}

impl<'de> Deserialize<'de> for Autostop {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Autostop, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Flag(bool),
            Name(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Flag(false) => Ok(Autostop::Off),
            Wire::Flag(true) => Ok(Autostop::Stop),
            Wire::Name(name) => match name.as_str() {
                "off" => Ok(Autostop::Off),
                "stop" => Ok(Autostop::Stop),
                "suspend" => Ok(Autostop::Suspend),
                other => Err(serde::de::Error::custom(format!(
                    "unknown autostop {other:?}"
                ))),
            },
        }
    }
}

/// `Machine`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Machine {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub version: Option<String>,
    /// Deprecated alias of `version`, read when `version` is absent.
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub config: Option<MachineConfig>,
    #[serde(default)]
    pub private_ip: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Newest first (fly-go `GetLatestEventOfType` reads them so).
    #[serde(default)]
    pub events: Vec<MachineEvent>,
    #[serde(default)]
    pub checks: Vec<CheckStatus>,
    /// `ok`, `unknown` or `unreachable`: whether Fly can reach the machine's host.
    #[serde(default)]
    pub host_status: Option<String>,
    #[serde(default)]
    pub image_ref: Option<ImageRef>,
}

impl Machine {
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref().or(self.instance_id.as_deref())
    }

    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.config.as_ref()?.metadata.get(key).map(String::as_str)
    }
}

/// `WaitMachineResponse`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct WaitMachineResponse {
    #[serde(default)]
    pub ok: Option<bool>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub event_id: Option<String>,
}

/// `StopRequest`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StopRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// A Go duration such as `"10s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// `CreateLeaseRequest`.
#[derive(Clone, Debug, Serialize)]
pub struct CreateLeaseRequest {
    /// Seconds the lease stays valid.
    pub ttl: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `Lease`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Lease {
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

/// The spec says a lease comes bare; the wire (docs, fly-go) wraps it in
/// `{"status": "success", "data": {...}}`. Both are read.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum LeaseBody {
    Wrapped { data: Lease },
    Bare(Lease),
}

impl LeaseBody {
    pub(crate) fn into_lease(self) -> Lease {
        match self {
            LeaseBody::Wrapped { data } | LeaseBody::Bare(data) => data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autostop_reads_string_or_bool() {
        let read = |json: &str| serde_json::from_str::<Autostop>(json).unwrap();
        assert_eq!(read("\"suspend\""), Autostop::Suspend);
        assert_eq!(read("\"stop\""), Autostop::Stop);
        assert_eq!(read("\"off\""), Autostop::Off);
        assert_eq!(read("true"), Autostop::Stop);
        assert_eq!(read("false"), Autostop::Off);
        assert!(serde_json::from_str::<Autostop>("\"sometimes\"").is_err());
        assert_eq!(
            serde_json::to_string(&Autostop::Suspend).unwrap(),
            "\"suspend\""
        );
    }

    #[test]
    fn lease_reads_wrapped_or_bare() {
        let wrapped = r#"{"status":"success","data":{"nonce":"n1","expires_at":5}}"#;
        let bare = r#"{"nonce":"n2","owner":"me"}"#;
        let read = |json: &str| {
            serde_json::from_str::<LeaseBody>(json)
                .unwrap()
                .into_lease()
        };
        assert_eq!(read(wrapped).nonce, "n1");
        assert_eq!(read(bare).nonce, "n2");
    }
}
