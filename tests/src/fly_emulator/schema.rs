//! A small JSON Schema checker for the subset OpenAPI 3.0 uses in Fly's spec:
//! `$ref`, `allOf`, `type`, `enum`, `required`, `nullable`, integer formats,
//! `items`, `properties` and `additionalProperties`.
//!
//! It is stricter than Fly's Go decoder on purpose: a property the schema does
//! not declare is an error, so a client that drifts from the spec (say
//! `app_name` where the spec says `name`) fails a test instead of being
//! silently ignored by the emulator and then by Fly.

use serde_json::{Map, Value};

/// Where and why a value does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON path of the offending value, e.g. `$.config.services[0].autostop`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Properties whose schema in the spec is narrower than what Fly accepts.
/// `autostop` is declared as a string enum, yet the description (and Fly)
/// accept the legacy booleans too, so `(schema, property)` here also takes a boolean.
const ALSO_ACCEPTS_BOOLEAN: &[(&str, &str)] = &[("fly.MachineService", "autostop")];

/// Checks `value` against `schema`; `root` is the whole spec, for `$ref`.
pub fn validate(root: &Value, schema: &Value, value: &Value) -> Result<(), SchemaError> {
    Checker { root }.check(schema, value, "$")
}

struct Checker<'a> {
    root: &'a Value,
}

/// A schema with its `$ref`s followed and its `allOf` parts merged.
#[derive(Default)]
struct Flat<'a> {
    names: Vec<String>,
    kind: Option<&'a str>,
    format: Option<&'a str>,
    nullable: bool,
    allowed: Option<&'a Vec<Value>>,
    properties: Map<String, Value>,
    required: Vec<&'a str>,
    additional: Option<&'a Value>,
    items: Option<&'a Value>,
    /// Whether any part named properties or composed others: then the object is closed.
    declares_shape: bool,
}

impl<'a> Checker<'a> {
    fn check(&self, schema: &'a Value, value: &Value, path: &str) -> Result<(), SchemaError> {
        let mut flat = Flat::default();
        self.flatten(schema, &mut flat, path, 0)?;
        self.check_flat(&flat, value, path)
    }

    fn resolve(&self, reference: &str, path: &str) -> Result<(&'a Value, String), SchemaError> {
        let pointer = reference.strip_prefix('#').ok_or_else(|| SchemaError {
            path: path.to_owned(),
            message: format!("cannot follow external $ref {reference}"),
        })?;
        let target = self.root.pointer(pointer).ok_or_else(|| SchemaError {
            path: path.to_owned(),
            message: format!("dangling $ref {reference}"),
        })?;
        let name = reference.rsplit('/').next().unwrap_or(reference).to_owned();
        Ok((target, name))
    }

    fn flatten(
        &self,
        schema: &'a Value,
        flat: &mut Flat<'a>,
        path: &str,
        depth: u32,
    ) -> Result<(), SchemaError> {
        if depth > 32 {
            return Err(SchemaError {
                path: path.to_owned(),
                message: "schema nests too deep".to_owned(),
            });
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let (target, name) = self.resolve(reference, path)?;
            flat.names.push(name);
            return self.flatten(target, flat, path, depth + 1);
        }
        if let Some(kind) = schema.get("type").and_then(Value::as_str) {
            flat.kind = Some(kind);
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str) {
            flat.format = Some(format);
        }
        if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
            flat.nullable = true;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            flat.allowed = Some(allowed);
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            flat.declares_shape = true;
            for (name, property) in properties {
                flat.properties.insert(name.clone(), property.clone());
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            flat.required
                .extend(required.iter().filter_map(Value::as_str));
        }
        if let Some(additional) = schema.get("additionalProperties") {
            flat.additional = Some(additional);
        }
        if let Some(items) = schema.get("items") {
            flat.items = Some(items);
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            flat.declares_shape = true;
            for part in parts {
                self.flatten(part, flat, path, depth + 1)?;
            }
        }
        Ok(())
    }

    fn check_flat(&self, flat: &Flat<'a>, value: &Value, path: &str) -> Result<(), SchemaError> {
        let fail = |message: String| {
            Err(SchemaError {
                path: path.to_owned(),
                message,
            })
        };
        if value.is_null() {
            return if flat.nullable {
                Ok(())
            } else {
                fail("null is not allowed here".to_owned())
            };
        }
        let kind = flat
            .kind
            .or_else(|| (!flat.properties.is_empty()).then_some("object"));
        match kind {
            Some("object") if !value.is_object() => {
                return fail(format!("expected an object, found {}", type_name(value)));
            }
            Some("array") if !value.is_array() => {
                return fail(format!("expected an array, found {}", type_name(value)));
            }
            Some("string") if !value.is_string() => {
                return fail(format!("expected a string, found {}", type_name(value)));
            }
            Some("boolean") if !value.is_boolean() => {
                return fail(format!("expected a boolean, found {}", type_name(value)));
            }
            Some("number") if !value.is_number() => {
                return fail(format!("expected a number, found {}", type_name(value)));
            }
            Some("integer") => check_integer(value, flat.format).or_else(fail)?,
            _ => {}
        }
        if let Some(allowed) = flat.allowed
            && !allowed.contains(value)
        {
            return fail(format!(
                "{value} is not one of {}",
                Value::Array(allowed.clone())
            ));
        }
        if let (Some(items), Some(elements)) = (flat.items, value.as_array()) {
            for (index, element) in elements.iter().enumerate() {
                self.check(items, element, &format!("{path}[{index}]"))?;
            }
        }
        if let Some(object) = value.as_object() {
            self.check_object(flat, object, path)?;
        }
        Ok(())
    }

    fn check_object(
        &self,
        flat: &Flat<'a>,
        object: &Map<String, Value>,
        path: &str,
    ) -> Result<(), SchemaError> {
        for name in &flat.required {
            if !object.contains_key(*name) {
                return Err(SchemaError {
                    path: path.to_owned(),
                    message: format!("required property {name:?} is missing"),
                });
            }
        }
        for (name, value) in object {
            let child = format!("{path}.{name}");
            if let Some(property) = flat.properties.get(name) {
                let lenient = value.is_boolean()
                    && ALSO_ACCEPTS_BOOLEAN.iter().any(|(schema, field)| {
                        field == name && flat.names.iter().any(|n| n == schema)
                    });
                if !lenient {
                    self.check(property, value, &child)?;
                }
                continue;
            }
            match flat.additional {
                Some(Value::Bool(true)) => {}
                Some(Value::Bool(false)) => return undeclared(&child, name),
                Some(schema) => self.check(schema, value, &child)?,
                // A bare `type: object` (e.g. `details`) is free-form; a declared shape is closed.
                None if flat.declares_shape => return undeclared(&child, name),
                None => {}
            }
        }
        Ok(())
    }
}

fn undeclared(path: &str, name: &str) -> Result<(), SchemaError> {
    Err(SchemaError {
        path: path.to_owned(),
        message: format!("property {name:?} is not declared by the schema"),
    })
}

fn check_integer(value: &Value, format: Option<&str>) -> Result<(), String> {
    let number = value
        .as_i64()
        .map(i128::from)
        .or_else(|| value.as_u64().map(i128::from))
        .ok_or_else(|| format!("expected an integer, found {}", describe(value)))?;
    let fits = match format {
        Some("int32") => i32::try_from(number).is_ok(),
        Some("int64") => i64::try_from(number).is_ok(),
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "{number} does not fit {}",
            format.unwrap_or("integer")
        ))
    }
}

fn describe(value: &Value) -> String {
    if value.is_number() {
        format!("the number {value}")
    } else {
        type_name(value).to_owned()
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Value {
        serde_json::from_str(include_str!("../../fixtures/machines-openapi.json")).unwrap()
    }

    fn check(schema_name: &str, body: Value) -> Result<(), SchemaError> {
        let root = spec();
        let schema = json!({"$ref": format!("#/components/schemas/{schema_name}")});
        validate(&root, &schema, &body)
    }

    #[test]
    fn a_valid_machine_request_passes() {
        let body = json!({
            "name": "preview-a", "region": "iad", "min_secrets_version": 3,
            "config": {
                "image": "registry.fly.io/x:1",
                "env": {"PORT": "3000"},
                "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 1024},
                "metadata": {"preview_app_id": "a"},
                "restart": {"policy": "on-failure"},
                "services": [{"protocol": "tcp", "internal_port": 3000, "autostart": true,
                    "autostop": "suspend", "min_machines_running": 0,
                    "ports": [{"port": 443, "handlers": ["tls", "http"]}]}]
            }
        });
        assert_eq!(check("CreateMachineRequest", body), Ok(()));
    }

    #[test]
    fn an_undeclared_property_fails_with_its_path() {
        let error = check(
            "CreateAppRequest",
            json!({"app_name": "x", "org_slug": "personal"}),
        )
        .unwrap_err();
        assert_eq!(error.path, "$.app_name");
        let nested =
            json!({"config": {"image": "x", "services": [{"internal_port": 1, "bogus": 1}]}});
        let error = check("CreateMachineRequest", nested).unwrap_err();
        assert_eq!(error.path, "$.config.services[0].bogus");
    }

    #[test]
    fn a_wrong_type_fails() {
        let error = check(
            "CreateMachineRequest",
            json!({"config": {"guest": {"cpus": "1"}}}),
        )
        .unwrap_err();
        assert_eq!(error.path, "$.config.guest.cpus");
        let error = check("CreateMachineRequest", json!({"min_secrets_version": 1.5})).unwrap_err();
        assert!(error.message.contains("integer"), "{error}");
        let error = check("AppSecretsUpdateRequest", json!({"values": {"A": 1}})).unwrap_err();
        assert_eq!(error.path, "$.values.A");
    }

    #[test]
    fn a_bad_enum_fails() {
        let error = check("assignIPRequest", json!({"type": "shared_v5"})).unwrap_err();
        assert_eq!(error.path, "$.type");
        let body = json!({"config": {"services": [{"autostop": "sometimes"}]}});
        assert_eq!(
            check("CreateMachineRequest", body).unwrap_err().path,
            "$.config.services[0].autostop"
        );
    }

    #[test]
    fn autostop_accepts_the_legacy_boolean() {
        let body = json!({"config": {"services": [{"autostop": true}]}});
        assert_eq!(check("CreateMachineRequest", body), Ok(()));
        // Only autostop: another string field still refuses a boolean.
        let body = json!({"config": {"services": [{"protocol": true}]}});
        assert!(check("CreateMachineRequest", body).is_err());
    }

    #[test]
    fn null_is_refused_unless_nullable() {
        let error = check("CreateAppRequest", json!({"name": null})).unwrap_err();
        assert_eq!(error.path, "$.name");
    }
}
