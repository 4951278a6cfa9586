//! Bodies of the app, IP assignment and secrets operations, and Fly's error body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `CreateAppRequest`.
#[derive(Clone, Debug, Serialize)]
pub struct CreateAppRequest {
    pub name: String,
    pub org_slug: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Makes a retried create return the first app instead of `name_taken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `CreateAppResponse`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CreateAppResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub created_at: Option<i64>,
}

/// `App`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct App {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub organization: Option<AppOrganizationInfo>,
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub machine_count: Option<i64>,
}

/// `AppOrganizationInfo`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AppOrganizationInfo {
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `ListAppsResponse`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListAppsResponse {
    #[serde(default)]
    pub apps: Vec<App>,
    #[serde(default)]
    pub total_apps: Option<i64>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `IPAssignmentType` (the subset previews use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpAssignmentType {
    V4,
    V6,
    SharedV4,
    PrivateV6,
}

/// `assignIPRequest`.
#[derive(Clone, Debug, Serialize)]
pub struct AssignIpRequest {
    #[serde(rename = "type")]
    pub ip_type: IpAssignmentType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_slug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
}

/// `IPAssignment` and `AssignIPResponse` (the fields both carry).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IpAssignment {
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub shared: bool,
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

impl IpAssignment {
    /// Which kind of address this is. The list response carries no `type`,
    /// so it is read off the address: shared IPv4, private (`fdaa:`) or public IPv6.
    pub fn kind(&self) -> Option<IpAssignmentType> {
        let ip = self.ip.as_deref()?;
        Some(match (ip.contains(':'), self.shared) {
            (false, true) => IpAssignmentType::SharedV4,
            (false, false) => IpAssignmentType::V4,
            (true, _) if ip.to_ascii_lowercase().starts_with("fdaa:") => {
                IpAssignmentType::PrivateV6
            }
            (true, _) => IpAssignmentType::V6,
        })
    }
}

/// `listIPAssignmentsResponse`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListIpAssignmentsResponse {
    #[serde(default)]
    pub ips: Vec<IpAssignment>,
}

/// `AppSecretsUpdateRequest`. Values are secrets: this type is never logged.
#[derive(Clone, Serialize)]
pub struct AppSecretsUpdateRequest {
    pub values: BTreeMap<String, String>,
}

/// `AppSecretsUpdateResp` (the secrets list is digests only; we keep the version).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AppSecretsUpdateResp {
    #[serde(default)]
    pub version: Option<i64>,
    /// Deprecated capitalised twin of `version`, still sent by older API versions.
    #[serde(default, rename = "Version")]
    pub deprecated_version: Option<i64>,
}

/// `ErrorResponse`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ErrorResponse {
    #[serde(default)]
    pub error: Option<String>,
    /// `main.statusCode`: `unknown`, `insufficient_capacity`, `name_taken`, ...
    #[serde(default)]
    pub status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_kind_from_address() {
        let ip = |address: &str, shared: bool| IpAssignment {
            ip: Some(address.to_owned()),
            shared,
            ..IpAssignment::default()
        };
        assert_eq!(
            ip("66.241.124.1", true).kind(),
            Some(IpAssignmentType::SharedV4)
        );
        assert_eq!(
            ip("2a09:8280:1::1", false).kind(),
            Some(IpAssignmentType::V6)
        );
        assert_eq!(
            ip("fdaa:0:1::3", false).kind(),
            Some(IpAssignmentType::PrivateV6)
        );
    }
}
