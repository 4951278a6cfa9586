//! How an emulated machine lives beyond its states: boots that crash and are
//! restarted (exit events with codes and restart counts, as flyd records
//! them), service checks, the image reference Fly resolves, and Fly's proxy
//! stopping machines nobody sends requests to.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::state::MachineRecord;

/// A state still to come, with the event Fly records when it arrives.
#[derive(Debug, Clone)]
pub struct Pending {
    pub due: Instant,
    pub state: &'static str,
    pub event: Option<Value>,
}

/// flyd's default number of restarts under `restart: on-failure`.
const DEFAULT_MAX_RETRIES: u64 = 10;

/// How a start is refused (`FlyEmulator::refuse_next_starts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartRefusal {
    /// 412 `insufficient_capacity`, "insufficient memory available".
    NoMemory412,
    /// 409 "insufficient resources" without a status code.
    NoCapacity409,
    /// 200 with `{"status": "error"}`, as flyctl's `start.go` expects it.
    ErrorStatus,
}

impl MachineRecord {
    /// Starts the machine through `states` (ending `started`). A machine
    /// whose image crashes exits one transition after each start and is
    /// restarted `restart.max_retries` times, then left `stopped`.
    pub fn boot(&mut self, now: Instant, step: Duration, states: &[&'static str]) {
        self.last_inbound = now;
        let Some(code) = self.crash_exit_code else {
            self.schedule(now, step, states);
            return;
        };
        self.schedule(now, step, states);
        let mut due = now + step * states.len().saturating_sub(1) as u32;
        let retries = self.max_retries();
        for restart in 0..=retries {
            due += step;
            let restarting = restart < retries;
            let exit = exit_event(due, code, restart, restarting);
            let state = if restarting { "starting" } else { "stopped" };
            self.pending.push_back(Pending {
                due,
                state,
                event: Some(exit),
            });
            if restarting {
                due += step;
                self.pending.push_back(Pending {
                    due,
                    state: "started",
                    event: None,
                });
            }
        }
        self.settle(now);
    }

    fn max_retries(&self) -> u64 {
        match self
            .config
            .pointer("/restart/policy")
            .and_then(Value::as_str)
        {
            Some("no") => 0,
            _ => self
                .config
                .pointer("/restart/max_retries")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_MAX_RETRIES),
        }
    }

    /// One status per service check: passing while the machine is started
    /// and its entrypoint is not crashing.
    pub fn checks_json(&self) -> Vec<Value> {
        let healthy = self.state == "started" && self.crash_exit_code.is_none();
        let services = self.config.get("services").and_then(Value::as_array);
        let checks = services.into_iter().flatten().flat_map(|service| {
            let port = service.get("internal_port").cloned().unwrap_or(Value::Null);
            let checks = service.get("checks").and_then(Value::as_array);
            checks
                .into_iter()
                .flatten()
                .map(move |check| (port.clone(), check))
        });
        checks
            .enumerate()
            .map(|(index, (port, check))| {
                let kind = check.get("type").and_then(Value::as_str).unwrap_or("tcp");
                let status = if healthy { "passing" } else { "critical" };
                json!({"name": format!("servicecheck-{index:02}-{kind}-{port}"), "status": status,
                       "output": if healthy { "200 OK" } else { "connection refused" }})
            })
            .collect()
    }

    /// The autostop setting of its services: `off` unless one says otherwise.
    fn autostop(&self) -> &str {
        let services = self.config.get("services").and_then(Value::as_array);
        let mut modes =
            services
                .into_iter()
                .flatten()
                .filter_map(|service| match service.get("autostop")? {
                    Value::Bool(true) => Some("stop"),
                    Value::String(mode) if mode != "off" => Some(mode.as_str()),
                    _ => None,
                });
        modes.next_back().unwrap_or("off")
    }

    fn autostart(&self) -> bool {
        let services = self.config.get("services").and_then(Value::as_array);
        services
            .into_iter()
            .flatten()
            .any(|service| service.get("autostart").and_then(Value::as_bool) == Some(true))
    }

    /// Fly's proxy stops (or suspends) a started machine that got no proxied
    /// request for `window`, unless its service says `autostop: off`.
    pub fn proxy_autostop(&mut self, now: Instant, window: Duration, step: Duration) {
        let idle_since = self.last_inbound + window;
        if self.state != "started" || !self.pending.is_empty() || now < idle_since {
            return;
        }
        match self.autostop() {
            "suspend" => self.schedule(idle_since, step, &["suspending", "suspended"]),
            "stop" => self.schedule(idle_since, step, &["stopping", "stopped"]),
            _ => return,
        }
        self.settle(now);
    }

    /// A request routed by Fly's proxy: it counts as traffic, and wakes a
    /// sleeping machine when its service has `autostart`. Whether it was served.
    pub fn proxied_request(&mut self, now: Instant, step: Duration) -> bool {
        self.last_inbound = now;
        match self.state {
            "started" => true,
            "stopped" | "suspended" if self.autostart() => {
                self.boot(now, step, &["starting", "started"]);
                true
            }
            _ => false,
        }
    }
}

fn exit_event(at: Instant, code: i64, restart_count: u64, restarting: bool) -> Value {
    json!({
        "type": "exit",
        "status": if restarting { "starting" } else { "stopped" },
        "source": "flyd",
        "timestamp": unix_ms(at),
        "request": {
            "exit_event": {"exit_code": code, "restarting": restarting, "requested_stop": false},
            "restart_count": restart_count,
        },
    })
}

/// `at` in milliseconds since the epoch, as Fly stamps events.
pub fn unix_ms(at: Instant) -> i64 {
    let now = Instant::now();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64);
    if at >= now {
        wall + (at - now).as_millis() as i64
    } else {
        wall - (now - at).as_millis() as i64
    }
}

/// The image reference Fly answers with: the image as sent, resolved to a
/// digest (derived from the image name, so one image keeps one digest).
pub fn image_ref(config: &Value) -> Value {
    let image = config
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = image.split('@').next().unwrap_or(image);
    let (registry, rest) = name.split_once('/').unwrap_or(("registry.fly.io", name));
    let (repository, tag) = rest.rsplit_once(':').unwrap_or((rest, "latest"));
    let digest = image
        .split_once('@')
        .map(|(_, digest)| digest.to_owned())
        .unwrap_or_else(|| format!("sha256:{:064x}", fnv(repository) as u128));
    json!({"registry": registry, "repository": repository, "tag": tag, "digest": digest})
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
