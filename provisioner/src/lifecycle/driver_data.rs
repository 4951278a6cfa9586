//! What a driver remembers about a preview, as the store keeps it: a JSON
//! object of strings (the form every earlier version wrote). Each driver
//! reads and writes it through its own struct, never by key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lifecycle::driver::DriverError;

/// A driver's facts as stored with the preview: a JSON object of strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DriverData(BTreeMap<String, String>);

impl DriverData {
    pub fn new() -> DriverData {
        DriverData::default()
    }

    /// One stored fact, for diagnostics and tests.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets one fact by hand: for tests of stores, which keep the map whole.
    /// Drivers go through their own struct ([`DriverData::encode`]).
    pub fn insert(&mut self, key: String, value: String) {
        self.0.insert(key, value);
    }

    /// The driver's own struct, read from the stored strings. Keys the
    /// struct does not name (left by another driver) are ignored.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, DriverError> {
        let object: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
            .collect();
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
        object
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => Ok((key, text)),
                other => Err(DriverError::permanent(format!(
                    "driver data field {key} is {other}, not a string"
                ))),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(DriverData)
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
