//! Emulated app operations: create (with `idempotency_key` and `name_taken`),
//! show, list, delete (cascading to machines), IP assignments and secrets.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::state::{AppRecord, IpRecord, World};
use super::{Answer, Request, Shared, error};

/// Runs `request` if it is an app-level operation.
pub(crate) fn handle(shared: &Shared, request: &Request) -> Option<Answer> {
    Some(match request.operation_id.as_str() {
        "Apps_create" => create(shared, request),
        "Apps_show" => match shared.world().apps.get(request.param("app_name")) {
            Some(app) => Answer::Json(200, app.to_json()),
            None => app_not_found(),
        },
        "Apps_list" => list(shared, request),
        "Apps_delete" => delete(shared, request),
        "App_IPAssignments_create" => assign_ip(shared, request),
        "App_IPAssignments_list" => match shared.world().apps.get(request.param("app_name")) {
            Some(app) => Answer::Json(
                200,
                json!({"ips": app.ips.iter().map(ip_json).collect::<Vec<_>>()}),
            ),
            None => app_not_found(),
        },
        "Secrets_update" => update_secrets(shared, request),
        "Secrets_list" => match shared.world().apps.get(request.param("app_name")) {
            Some(app) => Answer::Json(200, json!({"secrets": secret_list(app)})),
            None => app_not_found(),
        },
        _ => return None,
    })
}

pub(crate) fn new_app(
    id: String,
    name: &str,
    org_slug: &str,
    network: Option<String>,
    created_at: Instant,
) -> AppRecord {
    AppRecord {
        id,
        name: name.to_owned(),
        org_slug: org_slug.to_owned(),
        network,
        ips: Vec::new(),
        secrets: BTreeMap::new(),
        secrets_version: 0,
        machines: BTreeMap::new(),
        created_at,
        deleted_at: None,
    }
}

pub(crate) fn app_not_found() -> Answer {
    error(404, "app not found")
}

fn text<'a>(body: &'a Option<Value>, field: &str) -> Option<&'a str> {
    body.as_ref()?
        .get(field)?
        .as_str()
        .filter(|text| !text.is_empty())
}

fn create(shared: &Shared, request: &Request) -> Answer {
    let Some(name) = text(&request.body, "name") else {
        return error(400, "name is required");
    };
    let Some(org_slug) = text(&request.body, "org_slug") else {
        return error(400, "org_slug is required");
    };
    let foreign = shared.realism().foreign_names.contains(name);
    let mut world = shared.world();
    if let Some(key) = text(&request.body, "idempotency_key")
        && let Some(first_name) = world.idempotency_keys.get(key)
    {
        if first_name != name {
            return error(422, "idempotency_key was used with a different name");
        }
        if let Some(app) = world.apps.get(name) {
            return Answer::Json(
                201,
                json!({"id": app.id, "created_at": 1_767_225_600_000_i64}),
            );
        }
    }
    // Names are global: one held by another organization, or by an app still
    // being deleted, is taken.
    if foreign || world.apps.contains_key(name) {
        return Answer::Json(
            422,
            json!({"error": format!("app name {name:?} is already taken"), "status": "name_taken"}),
        );
    }
    let id = world.new_id(16);
    let network = text(&request.body, "network").map(str::to_owned);
    world.apps.insert(
        name.to_owned(),
        new_app(id.clone(), name, org_slug, network, Instant::now()),
    );
    if let Some(key) = text(&request.body, "idempotency_key") {
        world
            .idempotency_keys
            .insert(key.to_owned(), name.to_owned());
    }
    Answer::Json(201, json!({"id": id, "created_at": 1_767_225_600_000_i64}))
}

/// Deleting an app takes its machines, IPs and secrets with it, at once or,
/// with a delete lag, after that long (202 either way, as Fly answers).
fn delete(shared: &Shared, request: &Request) -> Answer {
    let lag = shared.realism().delete_lag;
    let step = shared.transition;
    let mut world = shared.world();
    let name = request.param("app_name");
    if lag.is_zero() {
        return match world.apps.remove(name) {
            Some(_) => Answer::Empty(202),
            None => app_not_found(),
        };
    }
    let Some(app) = world.app_mut(name) else {
        return app_not_found();
    };
    if app.deleted_at.is_none() {
        let now = Instant::now();
        app.deleted_at = Some(now);
        for machine in app.machines.values_mut() {
            if machine.state != "destroyed" {
                machine.schedule(now, step, &["destroying", "destroyed"]);
            }
        }
    }
    Answer::Empty(202)
}

fn list(shared: &Shared, request: &Request) -> Answer {
    let org_slug = request.query_value("org_slug").unwrap_or_default();
    let list_lag = shared.realism().list_lag;
    let now = Instant::now();
    let world = shared.world();
    let apps: Vec<Value> = world
        .apps
        .values()
        .filter(|app| app.org_slug == org_slug)
        .filter(|app| World::listed(app.created_at, now, list_lag))
        .map(AppRecord::to_json)
        .collect();
    Answer::Json(200, json!({"total_apps": apps.len(), "apps": apps}))
}

fn assign_ip(shared: &Shared, request: &Request) -> Answer {
    let Some(kind) = text(&request.body, "type") else {
        return error(400, "type is required");
    };
    let region = text(&request.body, "region");
    if region.is_some() && matches!(kind, "shared_v4" | "private_v6") {
        return error(400, format!("region cannot be set for {kind}"));
    }
    let mut world = shared.world();
    let serial = world.counter() + 1;
    let _ = world.new_id(1);
    let Some(app) = world.app_mut(request.param("app_name")) else {
        return app_not_found();
    };
    let ip = match kind {
        "shared_v4" => "66.241.124.11".to_owned(),
        "v4" => format!("137.66.{}.{}", (serial / 250) % 250, serial % 250 + 1),
        "v6" => format!("2a09:8280:1::{serial:x}"),
        "private_v6" => format!("fdaa:0:1:a7b:{serial:x}::2"),
        other => {
            return error(
                400,
                format!("the emulator does not allocate {other} addresses"),
            );
        }
    };
    let record = IpRecord {
        ip,
        kind: kind.to_owned(),
        shared: kind == "shared_v4",
        region: region.unwrap_or("global").to_owned(),
    };
    app.ips.push(record.clone());
    Answer::Json(200, ip_json(&record))
}

fn ip_json(ip: &IpRecord) -> Value {
    json!({
        "ip": ip.ip,
        "region": ip.region,
        "shared": ip.shared,
        "egress": false,
        "service_name": "",
        "created_at": "2026-01-01T00:00:00Z",
    })
}

fn update_secrets(shared: &Shared, request: &Request) -> Answer {
    let values = request
        .body
        .as_ref()
        .and_then(|body| body.get("values"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut world = shared.world();
    let Some(app) = world.app_mut(request.param("app_name")) else {
        return app_not_found();
    };
    for (name, value) in values {
        match value.as_str() {
            Some(text) => app.secrets.insert(name, text.to_owned()),
            None => app.secrets.remove(&name),
        };
    }
    app.secrets_version += 1;
    let version = app.secrets_version;
    Answer::Json(
        200,
        json!({"secrets": secret_list(app), "version": version, "Version": version}),
    )
}

/// Secrets as Fly lists them: names and digests, never values.
fn secret_list(app: &AppRecord) -> Vec<Value> {
    app.secrets
        .iter()
        .map(|(name, value)| {
            json!({
                "name": name,
                "digest": format!("{:016x}", value.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))),
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            })
        })
        .collect()
}
