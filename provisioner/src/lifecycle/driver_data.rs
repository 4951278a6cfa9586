//! What a driver remembers about a preview, as the store keeps it: a JSON
//! object of strings (the form every earlier version wrote). Each driver
//! reads and writes it through its own struct, never by key.
//!
//! One fact is kept apart: the preview's platform name (a Fly app name),
//! chosen once when the preview is first made and kept for its life, so
//! that changing a naming setting (`--fly-app-prefix`) neither orphans nor
//! mis-addresses an existing preview. The store keeps it in its own column
//! (`previews.platform_name`, migration 0007), the API shows the URL built
//! from it, and a driver reads it as the field `platform_name` of its struct.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lifecycle::driver::DriverError;

/// The key under which a driver's struct reads and writes the platform name.
pub const PLATFORM_NAME: &str = "platform_name";

/// A driver's facts as stored with the preview: a JSON object of strings
/// (what serde reads and writes), and the platform name, which the store
/// keeps in its own column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriverData {
    facts: BTreeMap<String, String>,
    platform_name: Option<String>,
}

impl Serialize for DriverData {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.facts.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DriverData {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(DriverData {
            facts: BTreeMap::deserialize(deserializer)?,
            platform_name: None,
        })
    }
}

impl DriverData {
    pub fn new() -> DriverData {
        DriverData::default()
    }

    /// One stored fact, for diagnostics and tests.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.facts.get(key).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.facts.is_empty() && self.platform_name.is_none()
    }

    /// Sets one fact by hand: for tests of stores, which keep the map whole.
    /// Drivers go through their own struct ([`DriverData::encode`]).
    pub fn insert(&mut self, key: String, value: String) {
        self.facts.insert(key, value);
    }

    /// The name the platform knows the preview by (a Fly app name), once chosen.
    pub fn platform_name(&self) -> Option<&str> {
        self.platform_name.as_deref()
    }

    /// Sets the platform name: for stores reading their column back, and tests.
    pub fn set_platform_name(&mut self, name: Option<String>) {
        self.platform_name = name;
    }

    /// The driver's own struct, read from the stored strings. Keys the
    /// struct does not name (left by another driver) are ignored.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, DriverError> {
        let mut object: serde_json::Map<String, serde_json::Value> = self
            .facts
            .iter()
            .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
            .collect();
        if let Some(name) = &self.platform_name {
            object.insert(
                PLATFORM_NAME.to_owned(),
                serde_json::Value::String(name.clone()),
            );
        }
        serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|error| DriverError::permanent(format!("stored driver data: {error}")))
    }

    /// Stores the driver's struct; every field must serialise as a string (or be skipped).
    pub fn encode<T: Serialize>(typed: &T) -> Result<DriverData, DriverError> {
        let value = serde_json::to_value(typed)
            .map_err(|error| DriverError::permanent(format!("driver data: {error}")))?;
        let serde_json::Value::Object(object) = value else {
            return Err(DriverError::permanent("driver data is not a struct"));
        };
        let mut facts = object
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => Ok((key, text)),
                other => Err(DriverError::permanent(format!(
                    "driver data field {key} is {other}, not a string"
                ))),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        let platform_name = facts.remove(PLATFORM_NAME);
        Ok(DriverData {
            facts,
            platform_name,
        })
    }
}

/// Numbers kept as strings in [`DriverData`]: `#[serde(with = "as_text", default)]`
/// on an `Option<T>` field, together with `skip_serializing_if = "Option::is_none"`.
pub mod as_text {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.collect_str(value),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
