//! Emulated machine operations: create, list (with `metadata.{key}`
//! filters), show, start, stop, suspend, wait, delete, and leases.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::apps_api::app_not_found;
use super::machine_life::StartRefusal;
use super::state::{LeaseRecord, MachineRecord, World};
use super::{Answer, Request, Shared, error};

/// Fly holds a `wait` for at most 60 seconds.
const MAX_WAIT_SECONDS: u64 = 60;

pub(crate) async fn handle(shared: &Shared, request: &Request) -> Answer {
    match request.operation_id.as_str() {
        "Machines_create" => create(shared, request),
        "Machines_list" => list(shared, request),
        "Machines_show" => with_machine(shared, request, |machine, _| {
            Answer::Json(200, machine.to_json())
        }),
        "Machines_start" => power(shared, request, Power::Start),
        "Machines_stop" => power(shared, request, Power::Stop),
        "Machines_suspend" => power(shared, request, Power::Suspend),
        "Machines_delete" => power(shared, request, Power::Destroy),
        "Machines_wait" => wait(shared, request).await,
        "Machines_create_lease" => create_lease(shared, request),
        "Machines_show_lease" => with_machine(shared, request, |machine, _| match &machine.lease {
            Some(lease) => Answer::Json(200, lease_json(lease, &machine.version)),
            None => error(404, "lease not found"),
        }),
        "Machines_release_lease" => {
            with_machine(shared, request, |machine, _| match &machine.lease {
                Some(lease) if Some(&lease.nonce) != request.lease_nonce.as_ref() => {
                    error(409, "lease nonce does not match")
                }
                _ => {
                    machine.lease = None;
                    Answer::Json(200, json!({"ok": true}))
                }
            })
        }
        other => error(501, format!("{other} is in the spec but not emulated")),
    }
}

fn with_machine(
    shared: &Shared,
    request: &Request,
    act: impl FnOnce(&mut MachineRecord, Duration) -> Answer,
) -> Answer {
    let mut world = shared.world();
    let Some(app) = world.app_mut(request.param("app_name")) else {
        return app_not_found();
    };
    match app.machines.get_mut(request.param("machine_id")) {
        Some(machine) => act(machine, shared.transition),
        None => error(404, "machine not found"),
    }
}

fn create(shared: &Shared, request: &Request) -> Answer {
    let body = request.body.clone().unwrap_or_default();
    let config = body.get("config").cloned().unwrap_or(Value::Null);
    if config
        .get("image")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return error(400, "config.image is required");
    }
    let memory_mb = config
        .pointer("/guest/memory_mb")
        .and_then(Value::as_u64)
        .unwrap_or(256);
    let realism = shared.realism();
    let mut world: std::sync::MutexGuard<'_, World> = shared.world();
    let id = world.new_id(14);
    let version = format!("01{}", world.new_id(24)).to_uppercase();
    let Some(app) = world.app_mut(request.param("app_name")) else {
        return app_not_found();
    };
    let crash_exit_code = config
        .get("image")
        .and_then(Value::as_str)
        .and_then(|image| realism.crashing_images.get(image).copied());
    let min_secrets_version = body.get("min_secrets_version").and_then(Value::as_i64);
    if min_secrets_version.is_some_and(|wanted| wanted > app.secrets_version) {
        return error(400, "min_secrets_version is newer than the app's secrets");
    }
    if memory_mb == 0 || !memory_mb.is_multiple_of(256) {
        return error(400, "guest.memory_mb must be a multiple of 256");
    }
    let mut machine = MachineRecord {
        id: id.clone(),
        name: body
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("machine-{id}"), str::to_owned),
        region: body
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or("iad")
            .to_owned(),
        config,
        state: "created",
        pending: VecDeque::new(),
        events: Vec::new(),
        crash_exit_code,
        host_status: "ok",
        last_inbound: Instant::now(),
        version,
        lease: None,
        min_secrets_version,
        created_at: Instant::now(),
        started_at: None,
    };
    if body.get("skip_launch").and_then(Value::as_bool) != Some(true) {
        machine.boot(
            Instant::now(),
            shared.transition,
            &["created", "starting", "started"],
        );
    }
    let answer = machine.to_json();
    app.machines.insert(id, machine);
    Answer::Json(200, answer)
}

fn list(shared: &Shared, request: &Request) -> Answer {
    let list_lag = shared.realism().list_lag;
    let now = Instant::now();
    let world = shared.world();
    let Some(app) = world.apps.get(request.param("app_name")) else {
        return app_not_found();
    };
    let include_deleted = request.query_value("include_deleted") == Some("true");
    let states: Option<Vec<&str>> = request
        .query_value("state")
        .map(|list| list.split(',').collect());
    let filters: Vec<(&str, &str)> = request
        .query
        .iter()
        .filter_map(|(key, value)| Some((key.strip_prefix("metadata.")?, value.as_str())))
        .collect();
    let machines: Vec<Value> = app
        .machines
        .values()
        .filter(|m| include_deleted || m.state != "destroyed")
        .filter(|m| World::listed(m.created_at, now, list_lag))
        .filter(|m| {
            states
                .as_ref()
                .is_none_or(|states| states.contains(&m.state))
        })
        .filter(|m| {
            filters
                .iter()
                .all(|(key, value)| m.metadata(key) == Some(*value))
        })
        .map(MachineRecord::to_json)
        .collect();
    Answer::Json(200, Value::Array(machines))
}

#[derive(Clone, Copy)]
enum Power {
    Start,
    Stop,
    Suspend,
    Destroy,
}

fn power(shared: &Shared, request: &Request, action: Power) -> Answer {
    let force = request.query_value("force") == Some("true");
    let suspend_becomes_stop = shared.realism().suspend_becomes_stop;
    let mut refusal = match action {
        Power::Start => shared.world().start_refusals.pop_front(),
        _ => None,
    };
    let answer = with_machine(shared, request, |machine, step| {
        if let Some(lease) = &machine.lease
            && request.lease_nonce.as_ref() != Some(&lease.nonce)
        {
            return error(
                409,
                format!("machine {} is leased by {}", machine.id, lease.owner),
            );
        }
        let now = Instant::now();
        let previous = machine.state;
        let plan: &[&'static str] = match (action, previous) {
            (_, "destroyed" | "destroying") => return error(404, "machine not found"),
            (Power::Start, "started" | "starting") => &[],
            (Power::Start, "created" | "stopped" | "suspended" | "failed") => {
                &["starting", "started"]
            }
            (Power::Stop, "stopped" | "stopping") => &[],
            (Power::Stop, "started" | "starting" | "suspended" | "created") => {
                &["stopping", "stopped"]
            }
            (Power::Suspend, "suspended" | "suspending") => &[],
            (Power::Suspend, "started") if memory_mb(machine) > 2048 => {
                return error(
                    400,
                    "suspend needs a machine with at most 2048 MB of memory",
                );
            }
            (Power::Suspend, "started") if suspend_becomes_stop => &["suspending", "stopped"],
            (Power::Suspend, "started") => &["suspending", "suspended"],
            (Power::Destroy, "started" | "starting" | "stopping" | "suspending") if !force => {
                return error(412, "machine is still running; stop it or pass force=true");
            }
            (Power::Destroy, _) => &["destroying", "destroyed"],
            (_, state) => return error(412, format!("machine cannot do that from state {state}")),
        };
        match (action, refusal.take()) {
            (Power::Start, Some(how)) if !plan.is_empty() => return refuse(how, previous),
            (Power::Start, unused) => {
                refusal = unused;
                machine.boot(now, step, plan);
            }
            _ => machine.schedule(now, step, plan),
        }
        match action {
            Power::Start => Answer::Json(
                200,
                json!({"previous_state": previous, "migrated": false, "new_host": ""}),
            ),
            _ => Answer::Json(200, json!({"ok": true})),
        }
    });
    if let Some(unused) = refusal {
        shared.world().start_refusals.push_front(unused);
    }
    answer
}

/// A start Fly cannot honour on the machine's host.
fn refuse(how: StartRefusal, previous: &str) -> Answer {
    match how {
        StartRefusal::NoMemory412 => Answer::Json(
            412,
            json!({"error": "insufficient memory available to fulfill request", "status": "insufficient_capacity"}),
        ),
        StartRefusal::NoCapacity409 => error(409, "insufficient resources to start machine"),
        StartRefusal::ErrorStatus => Answer::Json(
            200,
            json!({"status": "error", "message": "could not reserve resources for machine", "previous_state": previous}),
        ),
    }
}

fn memory_mb(machine: &MachineRecord) -> u64 {
    machine
        .config
        .pointer("/guest/memory_mb")
        .and_then(Value::as_u64)
        .unwrap_or(256)
}

async fn wait(shared: &Shared, request: &Request) -> Answer {
    let timeout = match request.query_value("timeout").map(str::parse::<u64>) {
        None => MAX_WAIT_SECONDS,
        Some(Ok(seconds)) if seconds <= MAX_WAIT_SECONDS => seconds,
        Some(_) => {
            return error(
                400,
                format!("timeout must be at most {MAX_WAIT_SECONDS} seconds"),
            );
        }
    };
    let wanted: Vec<String> = match request
        .query
        .iter()
        .filter(|(key, _)| key == "state")
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
    {
        states if states.is_empty() => vec!["started".to_owned()],
        states => states
            .iter()
            .flat_map(|list| list.split(','))
            .map(str::to_owned)
            .collect(),
    };
    let deadline = Instant::now() + Duration::from_secs(timeout);
    loop {
        let next_change = {
            let world = shared.world();
            let Some(app) = world.apps.get(request.param("app_name")) else {
                return app_not_found();
            };
            let Some(machine) = app.machines.get(request.param("machine_id")) else {
                return error(404, "machine not found");
            };
            // Machines are never updated here, so any other version is unknown.
            if let Some(version) = request.query_value("version")
                && version != machine.version
            {
                return error(400, format!("machine has no version {version}"));
            }
            let reached = wanted.iter().any(|state| {
                state == machine.state || (state == "settled" && machine.is_settled())
            });
            if reached {
                return Answer::Json(
                    200,
                    json!({"ok": true, "state": machine.state, "version": machine.version, "event_id": ""}),
                );
            }
            machine.next_change()
        };
        let now = Instant::now();
        if now >= deadline {
            return error(
                408,
                "deadline_exceeded: machine did not reach the wanted state in time",
            );
        }
        // Another request may change the state at any time, so poll at least every 10 ms.
        let wake = next_change
            .unwrap_or(deadline)
            .min(deadline)
            .min(now + Duration::from_millis(10));
        tokio::time::sleep_until(wake.max(now + Duration::from_millis(1))).await;
    }
}

fn create_lease(shared: &Shared, request: &Request) -> Answer {
    let ttl = request
        .body
        .as_ref()
        .and_then(|body| body.get("ttl"))
        .and_then(Value::as_u64)
        .unwrap_or(30);
    let description = request
        .body
        .as_ref()
        .and_then(|body| body.get("description"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let nonce = {
        let mut world = shared.world();
        world.new_id(12)
    };
    with_machine(shared, request, |machine, _| {
        let nonce = match (&machine.lease, &request.lease_nonce) {
            // Refreshing with the current nonce extends the lease.
            (Some(lease), Some(given)) if &lease.nonce == given => given.clone(),
            (Some(lease), _) => return error(409, format!("machine is leased by {}", lease.owner)),
            (None, _) => nonce,
        };
        let unix_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let lease = LeaseRecord {
            nonce,
            expires_at: Instant::now() + Duration::from_secs(ttl),
            expires_at_unix: unix_now + ttl as i64,
            owner: "emulator@example.com".to_owned(),
            description,
        };
        let answer = lease_json(&lease, &machine.version);
        machine.lease = Some(lease);
        Answer::Json(201, answer)
    })
}

/// Leases travel wrapped, as on the wire (the spec shows them bare).
fn lease_json(lease: &LeaseRecord, version: &str) -> Value {
    json!({"status": "success", "data": {
        "nonce": lease.nonce, "expires_at": lease.expires_at_unix, "owner": lease.owner,
        "description": lease.description, "version": version,
    }})
}
