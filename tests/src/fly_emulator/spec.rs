//! Fly's OpenAPI spec as the emulator's gatekeeper: every request is matched
//! to one of the spec's operations and its query, headers and body are
//! checked against what that operation declares.

use std::collections::BTreeMap;

use serde_json::Value;

use super::schema::{self, SchemaError};

/// The copy of Fly's spec kept in the repository (see `tests/fixtures`).
pub const BUNDLED_SPEC: &str = include_str!("../../fixtures/machines-openapi.json");

pub struct Spec {
    root: Value,
    operations: Vec<Operation>,
}

pub struct Operation {
    pub method: String,
    pub path_template: String,
    pub operation_id: String,
    segments: Vec<Segment>,
    parameters: Vec<Parameter>,
    body: Option<(Value, bool)>,
}

enum Segment {
    Literal(String),
    Param(String),
}

struct Parameter {
    name: String,
    location: String,
    required: bool,
    schema: Value,
}

/// Boolean query flags Fly's own clients send that the spec does not declare:
/// fly-go creates apps with `POST /apps?wait=true` (`flaps/flaps_apps.go`), and
/// Fly's docs delete an app with `?force=true`.
const UNDECLARED_FLAGS_FLY_ACCEPTS: &[(&str, &str)] =
    &[("Apps_create", "wait"), ("Apps_delete", "force")];

/// Why a request was refused before reaching the emulated API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No operation has this path: 404.
    UnknownPath,
    /// The path exists, not with this method: 405.
    MethodNotAllowed,
    /// The query, headers or body do not fit the operation: 400.
    Invalid(String),
}

impl Spec {
    pub fn bundled() -> Spec {
        Spec::parse(BUNDLED_SPEC).expect("the bundled spec parses")
    }

    pub fn parse(text: &str) -> Result<Spec, String> {
        let root: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let paths = root
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("spec has no paths")?;
        let mut operations = Vec::new();
        for (template, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            let shared: Vec<Value> = item
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (method, operation) in item {
                if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                    continue;
                }
                let declared = operation
                    .get("parameters")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let parameters = shared
                    .iter()
                    .chain(declared.iter())
                    .filter_map(parameter)
                    .collect();
                let body = operation.get("requestBody").map(|body| {
                    let schema = body
                        .pointer("/content/application~1json/schema")
                        .cloned()
                        .unwrap_or(Value::Null);
                    (
                        schema,
                        body.get("required")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    )
                });
                operations.push(Operation {
                    method: method.to_uppercase(),
                    path_template: template.clone(),
                    operation_id: operation
                        .get("operationId")
                        .and_then(Value::as_str)
                        .unwrap_or(template)
                        .to_owned(),
                    segments: segments(template),
                    parameters,
                    body,
                });
            }
        }
        Ok(Spec { root, operations })
    }

    /// The operation for `method path` and its path parameters. Literal
    /// segments win over parameters (`certificates/acme` over `certificates/{hostname}`).
    pub fn match_request(
        &self,
        method: &str,
        path: &str,
    ) -> Result<(&Operation, BTreeMap<String, String>), Rejection> {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let mut best: Option<(&Operation, usize)> = None;
        let mut path_exists = false;
        for operation in &self.operations {
            let Some(literals) = operation.matches(&parts) else {
                continue;
            };
            path_exists = true;
            if operation.method != method {
                continue;
            }
            if best.is_none_or(|(_, best_literals)| literals > best_literals) {
                best = Some((operation, literals));
            }
        }
        let (operation, _) = best.ok_or(if path_exists {
            Rejection::MethodNotAllowed
        } else {
            Rejection::UnknownPath
        })?;
        let mut params = BTreeMap::new();
        for (segment, part) in operation.segments.iter().zip(&parts) {
            if let Segment::Param(name) = segment {
                params.insert(name.clone(), (*part).to_owned());
            }
        }
        Ok((operation, params))
    }

    /// Checks every query parameter is declared and well typed, and required ones are present.
    pub fn check_query(
        &self,
        operation: &Operation,
        pairs: &[(String, String)],
    ) -> Result<(), Rejection> {
        for (key, value) in pairs {
            if UNDECLARED_FLAGS_FLY_ACCEPTS
                .contains(&(operation.operation_id.as_str(), key.as_str()))
            {
                if !matches!(value.as_str(), "true" | "false") {
                    return Err(invalid(format!(
                        "query parameter {key:?} must be true or false"
                    )));
                }
                continue;
            }
            let parameter = operation
                .parameters
                .iter()
                .filter(|p| p.location == "query")
                .find(|p| p.accepts_name(key))
                .ok_or_else(|| {
                    invalid(format!(
                        "query parameter {key:?} is not declared by {}",
                        operation.operation_id
                    ))
                })?;
            check_text(&parameter.schema, value)
                .map_err(|message| invalid(format!("query parameter {key:?}: {message}")))?;
        }
        for parameter in operation
            .parameters
            .iter()
            .filter(|p| p.required && p.location == "query")
        {
            if !pairs.iter().any(|(key, _)| parameter.accepts_name(key)) {
                return Err(invalid(format!(
                    "required query parameter {:?} is missing",
                    parameter.name
                )));
            }
        }
        Ok(())
    }

    /// Checks the operation's required header parameters are present.
    pub fn check_headers(
        &self,
        operation: &Operation,
        present: impl Fn(&str) -> bool,
    ) -> Result<(), Rejection> {
        match operation
            .parameters
            .iter()
            .find(|p| p.location == "header" && p.required && !present(&p.name))
        {
            Some(missing) => Err(invalid(format!(
                "required header {:?} is missing",
                missing.name
            ))),
            None => Ok(()),
        }
    }

    /// Parses and checks the body; `None` when the request has none.
    pub fn check_body(
        &self,
        operation: &Operation,
        body: &[u8],
    ) -> Result<Option<Value>, Rejection> {
        let empty = body.iter().all(u8::is_ascii_whitespace);
        let Some((schema, required)) = &operation.body else {
            return if empty {
                Ok(None)
            } else {
                Err(invalid(format!(
                    "{} takes no request body",
                    operation.operation_id
                )))
            };
        };
        if empty {
            return if *required {
                Err(invalid("a JSON request body is required".to_owned()))
            } else {
                Ok(None)
            };
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|error| invalid(format!("body is not JSON: {error}")))?;
        schema::validate(&self.root, schema, &value)
            .map_err(|SchemaError { path, message }| invalid(format!("{path}: {message}")))?;
        Ok(Some(value))
    }
}

impl Operation {
    /// `Some(number of literal segments)` when `parts` fits this template.
    fn matches(&self, parts: &[&str]) -> Option<usize> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut literals = 0;
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(text) if text == part => literals += 1,
                Segment::Literal(_) => return None,
                Segment::Param(_) if part.is_empty() => return None,
                Segment::Param(_) => {}
            }
        }
        Some(literals)
    }
}

impl Parameter {
    /// Exact names, or a templated family such as `metadata.{key}`.
    fn accepts_name(&self, key: &str) -> bool {
        match self.name.split_once('{') {
            Some((prefix, _)) => key.len() > prefix.len() && key.starts_with(prefix),
            None => self.name == key,
        }
    }
}

fn invalid(message: String) -> Rejection {
    Rejection::Invalid(message)
}

fn parameter(value: &Value) -> Option<Parameter> {
    Some(Parameter {
        name: value.get("name")?.as_str()?.to_owned(),
        location: value.get("in")?.as_str()?.to_owned(),
        required: value
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        schema: value.get("schema").cloned().unwrap_or(Value::Null),
    })
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .split('/')
        .skip(1)
        .map(
            |part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(part.to_owned()),
            },
        )
        .collect()
}

/// Checks a query value (always text on the wire) against a parameter schema.
/// Enums accept comma-separated lists, as Fly's `state` parameters do.
fn check_text(schema: &Value, value: &str) -> Result<(), String> {
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") if value.parse::<i64>().is_err() => {
            return Err(format!("{value:?} is not an integer"));
        }
        Some("number") if value.parse::<f64>().is_err() => {
            return Err(format!("{value:?} is not a number"));
        }
        Some("boolean") if !matches!(value, "true" | "false") => {
            return Err(format!("{value:?} is not true or false"));
        }
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        for item in value.split(',') {
            if !allowed.iter().any(|choice| choice.as_str() == Some(item)) {
                return Err(format!(
                    "{item:?} is not one of {}",
                    Value::Array(allowed.clone())
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn matches_operations_and_prefers_literals() {
        let spec = Spec::bundled();
        let (operation, params) = spec
            .match_request("GET", "/v1/apps/preview-a/machines/m1/wait")
            .unwrap();
        assert_eq!(operation.operation_id, "Machines_wait");
        assert_eq!(params["machine_id"], "m1");
        let (operation, _) = spec
            .match_request("POST", "/v1/apps/a/certificates/acme")
            .unwrap();
        assert_eq!(operation.operation_id, "App_Certificates_acme_create");
        assert_eq!(
            spec.match_request("GET", "/v1/nothing").err(),
            Some(Rejection::UnknownPath)
        );
        assert_eq!(
            spec.match_request("PATCH", "/v1/apps").err(),
            Some(Rejection::MethodNotAllowed)
        );
    }

    #[test]
    fn query_parameters_are_declared_and_typed() {
        let spec = Spec::bundled();
        let (wait, _) = spec
            .match_request("GET", "/v1/apps/a/machines/m/wait")
            .unwrap();
        assert!(
            spec.check_query(
                wait,
                &pairs(&[("state", "stopped,suspended"), ("timeout", "60")])
            )
            .is_ok()
        );
        assert!(
            spec.check_query(wait, &pairs(&[("timeout", "1.5")]))
                .is_err()
        );
        assert!(
            spec.check_query(wait, &pairs(&[("state", "running")]))
                .is_err()
        );
        let (delete_app, _) = spec.match_request("DELETE", "/v1/apps/a").unwrap();
        assert!(
            spec.check_query(delete_app, &pairs(&[("purge", "true")]))
                .is_err()
        );
        // What Fly's own clients send beyond the spec is accepted, as booleans only.
        assert!(
            spec.check_query(delete_app, &pairs(&[("force", "true")]))
                .is_ok()
        );
        assert!(
            spec.check_query(delete_app, &pairs(&[("force", "maybe")]))
                .is_err()
        );
        let (create_app, _) = spec.match_request("POST", "/v1/apps").unwrap();
        assert!(
            spec.check_query(create_app, &pairs(&[("wait", "true")]))
                .is_ok()
        );
        let (list, _) = spec.match_request("GET", "/v1/apps/a/machines").unwrap();
        assert!(
            spec.check_query(list, &pairs(&[("metadata.preview_app_id", "x")]))
                .is_ok()
        );
        assert!(
            spec.check_query(list, &pairs(&[("metadata.", "x")]))
                .is_err()
        );
        let (apps, _) = spec.match_request("GET", "/v1/apps").unwrap();
        assert!(spec.check_query(apps, &[]).is_err(), "org_slug is required");
    }

    #[test]
    fn bodies_are_checked() {
        let spec = Spec::bundled();
        let (start, _) = spec
            .match_request("POST", "/v1/apps/a/machines/m/start")
            .unwrap();
        assert!(spec.check_body(start, b"").is_ok());
        assert!(spec.check_body(start, b"{}").is_err());
        let (create, _) = spec.match_request("POST", "/v1/apps").unwrap();
        assert!(spec.check_body(create, b"").is_err());
        assert!(
            spec.check_body(create, br#"{"name":"a","org_slug":"o"}"#)
                .is_ok()
        );
        let Err(Rejection::Invalid(message)) = spec.check_body(create, br#"{"app_name":"a"}"#)
        else {
            panic!("app_name must be refused");
        };
        assert!(message.contains("$.app_name"), "{message}");
    }
}
