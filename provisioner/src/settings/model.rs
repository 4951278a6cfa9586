//! The settings themselves and the one decision about them: what a `PATCH`
//! makes of the current settings, or why it is refused. Pure, so the table
//! in `model_tests.rs` is the contract of every field and limit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sync_protocol::access::Visibility;

/// Longest install or dev command, in bytes.
pub const MAX_COMMAND_BYTES: usize = 4096;
/// Most environment variables per app.
pub const MAX_ENV_VARS: usize = 100;
/// Longest environment variable name, in bytes.
pub const MAX_ENV_NAME_BYTES: usize = 256;
/// Longest environment variable value, in bytes.
pub const MAX_ENV_VALUE_BYTES: usize = 32 * 1024;
/// The fields a `PATCH` may carry.
pub const FIELDS: [&str; 5] = [
    "install_command",
    "dev_command",
    "port",
    "env",
    "visibility",
];

/// An app's settings as stored. `None` means "not set": detection (or the
/// operator's default) decides.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSettings {
    #[serde(default)]
    pub install_command: Option<String>,
    #[serde(default)]
    pub dev_command: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub visibility: Option<Visibility>,
    /// Bumped to revoke every private link and cookie made before.
    #[serde(default)]
    pub access_generation: u64,
}

/// What `GET /v1/apps/{appId}/settings` shows: `env` values never.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    pub install_command: Option<String>,
    pub dev_command: Option<String>,
    pub port: Option<u16>,
    /// The names of the variables set; their values are write-only.
    pub env_keys: Vec<String>,
    /// What applies: the app's own choice, else the operator's default.
    pub visibility: Visibility,
}

impl AppSettings {
    pub fn view(&self, default_visibility: Visibility) -> SettingsView {
        SettingsView {
            install_command: self.install_command.clone(),
            dev_command: self.dev_command.clone(),
            port: self.port,
            env_keys: self.env.keys().cloned().collect(),
            visibility: self.visibility.unwrap_or(default_visibility),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("`{0}` is not a setting; the settings are {fields}", fields = FIELDS.join(", "))]
    UnknownField(String),
    #[error("`{field}` {reason}")]
    Invalid { field: String, reason: String },
    #[error("`{field}` {reason}")]
    TooLarge { field: String, reason: String },
}

fn invalid(field: &str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn too_large(field: &str, reason: impl Into<String>) -> SettingsError {
    SettingsError::TooLarge {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Applies a JSON merge patch (RFC 7396) to `current`: a field present sets
/// it, `null` clears it; in `env`, a name mapped to `null` removes it.
pub fn apply_patch(
    current: &AppSettings,
    patch: &Map<String, Value>,
) -> Result<AppSettings, SettingsError> {
    let mut next = current.clone();
    for (field, value) in patch {
        match field.as_str() {
            "install_command" => next.install_command = command(field, value)?,
            "dev_command" => next.dev_command = command(field, value)?,
            "port" => next.port = port(value)?,
            "visibility" => next.visibility = visibility(value)?,
            "env" => apply_env(&mut next.env, value)?,
            other => return Err(SettingsError::UnknownField(other.to_owned())),
        }
    }
    if next.env.len() > MAX_ENV_VARS {
        return Err(too_large(
            "env",
            format!(
                "holds {} variables; at most {MAX_ENV_VARS} are kept, remove some",
                next.env.len()
            ),
        ));
    }
    Ok(next)
}

fn command(field: &str, value: &Value) -> Result<Option<String>, SettingsError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.trim().is_empty() => Err(invalid(
            field,
            "is empty; send null to go back to the detected command",
        )),
        Value::String(text) if text.len() > MAX_COMMAND_BYTES => Err(too_large(
            field,
            format!(
                "is {} bytes; at most {MAX_COMMAND_BYTES}: put a long command in a package.json script",
                text.len()
            ),
        )),
        Value::String(text) if text.contains('\0') => Err(invalid(field, "contains a NUL byte")),
        Value::String(text) => Ok(Some(text.clone())),
        _ => Err(invalid(field, "must be a string or null")),
    }
}

fn port(value: &Value) -> Result<Option<u16>, SettingsError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => match number.as_u64() {
            Some(port @ 1..=65535) => Ok(Some(port as u16)),
            _ => Err(invalid(
                "port",
                "must be a port number from 1 to 65535, or null",
            )),
        },
        _ => Err(invalid(
            "port",
            "must be a port number from 1 to 65535, or null",
        )),
    }
}

fn visibility(value: &Value) -> Result<Option<Visibility>, SettingsError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => text
            .parse()
            .map(Some)
            .map_err(|_| invalid("visibility", "must be \"public\", \"private\" or null")),
        _ => Err(invalid(
            "visibility",
            "must be \"public\", \"private\" or null",
        )),
    }
}

fn apply_env(env: &mut BTreeMap<String, String>, value: &Value) -> Result<(), SettingsError> {
    let Value::Object(changes) = value else {
        return Err(invalid(
            "env",
            "must be an object of NAME: value (or null to remove NAME)",
        ));
    };
    for (name, value) in changes {
        env_name(name)?;
        match value {
            Value::Null => {
                env.remove(name);
            }
            Value::String(text) if text.len() > MAX_ENV_VALUE_BYTES => {
                return Err(too_large(
                    &format!("env.{name}"),
                    format!("is {} bytes; at most {MAX_ENV_VALUE_BYTES}", text.len()),
                ));
            }
            Value::String(text) if text.contains('\0') => {
                return Err(invalid(&format!("env.{name}"), "contains a NUL byte"));
            }
            Value::String(text) => {
                env.insert(name.clone(), text.clone());
            }
            _ => return Err(invalid(&format!("env.{name}"), "must be a string or null")),
        }
    }
    Ok(())
}

/// Names a shell and every runtime accept, minus those the preview sets itself.
fn env_name(name: &str) -> Result<(), SettingsError> {
    let field = format!("env.{name}");
    let mut bytes = name.bytes();
    let well_formed = bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    if name.len() > MAX_ENV_NAME_BYTES {
        return Err(too_large(
            &field,
            format!("name is longer than {MAX_ENV_NAME_BYTES} bytes"),
        ));
    }
    if !well_formed {
        return Err(invalid(
            &field,
            "is not a variable name (letters, digits and _, not starting with a digit)",
        ));
    }
    if name == "PORT" || name == "HOST" {
        return Err(invalid(
            &field,
            "is set by the preview; use the `port` setting for the dev server's port",
        ));
    }
    if name.starts_with("SYNC_") || name.starts_with("PROVISIONER_") || name.starts_with("FLY_") {
        return Err(invalid(
            &field,
            "is reserved for the preview's own configuration; choose another name",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
