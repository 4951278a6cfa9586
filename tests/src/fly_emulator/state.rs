//! What the emulated Fly holds: apps with their IPs and secrets, machines
//! with Fly's states, leases. Transitions are lazy: an operation schedules
//! the states a machine will pass through, and every access first applies
//! the ones whose time has come, so no background task is needed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::Realism;
pub use super::machine_life::Pending;
use super::machine_life::{StartRefusal, image_ref};

#[derive(Debug, Default)]
pub struct World {
    pub apps: BTreeMap<String, AppRecord>,
    /// Starts still to be refused, in order (`FlyEmulator::refuse_next_starts`).
    pub start_refusals: VecDeque<StartRefusal>,
    /// idempotency_key → app name of the create that used it first.
    pub idempotency_keys: HashMap<String, String>,
    counter: u64,
}

#[derive(Debug, Clone)]
pub struct AppRecord {
    pub id: String,
    pub name: String,
    pub org_slug: String,
    pub network: Option<String>,
    pub ips: Vec<IpRecord>,
    pub secrets: BTreeMap<String, String>,
    pub secrets_version: i64,
    pub machines: BTreeMap<String, MachineRecord>,
    /// When it was created: reads answer 404 until the visibility lag has passed.
    pub created_at: Instant,
    /// When `DELETE` was accepted; it is gone once the delete lag has passed.
    pub deleted_at: Option<Instant>,
}

#[derive(Debug, Clone)]
pub struct IpRecord {
    pub ip: String,
    pub kind: String,
    pub shared: bool,
    pub region: String,
}

#[derive(Debug, Clone)]
pub struct MachineRecord {
    pub id: String,
    pub name: String,
    pub region: String,
    /// The config as sent, echoed back the way Fly does (see `machine_json`).
    pub config: Value,
    pub state: &'static str,
    /// States still to come, each with the instant it is reached (and the
    /// event Fly records then, such as an exit).
    pub pending: VecDeque<Pending>,
    /// Fly's record of what happened to it, newest first (exits, with codes).
    pub events: Vec<Value>,
    /// The exit code of its entrypoint when its image crashes (`Realism::crashing_images`).
    pub crash_exit_code: Option<i64>,
    /// `ok`, or `unknown`/`unreachable` while Fly cannot reach its host.
    pub host_status: &'static str,
    /// The last request Fly's proxy routed to it (see `Realism::proxy_autostop`).
    pub last_inbound: Instant,
    pub version: String,
    pub lease: Option<LeaseRecord>,
    pub min_secrets_version: Option<i64>,
    /// When it was created: reads answer 404 until the visibility lag has passed.
    pub created_at: Instant,
    /// When it last reached `started` (Fly's proxy warms up from there).
    pub started_at: Option<Instant>,
}

#[derive(Debug, Clone)]
pub struct LeaseRecord {
    pub nonce: String,
    pub expires_at: Instant,
    pub expires_at_unix: i64,
    pub owner: String,
    pub description: String,
}

/// States from which nothing happens until someone asks.
pub const SETTLED_STATES: &[&str] = &[
    "created",
    "started",
    "stopped",
    "suspended",
    "destroyed",
    "failed",
];

impl World {
    /// A fresh identifier: `digits` lower-case hex characters, unique within the emulator.
    pub fn new_id(&mut self, digits: usize) -> String {
        self.counter += 1;
        // Multiplying by an odd constant permutes the low bits, so the last
        // `digits` (up to 16) hex characters are unique yet look random, like Fly's.
        let mixed = self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let salt = self.counter.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let hex = format!("{salt:016x}{mixed:016x}");
        hex[hex.len() - digits.min(hex.len())..].to_owned()
    }

    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// Applies every scheduled transition due by `now`, drops expired leases,
    /// forgets apps deleted at least `delete_lag` ago, and lets Fly's proxy
    /// stop machines without requests.
    pub fn settle(&mut self, now: Instant, realism: &Realism, step: Duration) {
        let delete_lag = realism.delete_lag;
        self.apps
            .retain(|_, app| app.deleted_at.is_none_or(|at| now < at + delete_lag));
        for app in self.apps.values_mut() {
            for machine in app.machines.values_mut() {
                machine.settle(now);
                if let Some(window) = realism.proxy_autostop {
                    machine.proxy_autostop(now, window, step);
                }
            }
        }
    }

    /// Apps and machines created at least `list_lag` before `now`: what lists show.
    pub fn listed(created_at: Instant, now: Instant, list_lag: Duration) -> bool {
        created_at + list_lag <= now
    }

    pub fn app_mut(&mut self, name: &str) -> Option<&mut AppRecord> {
        self.apps.get_mut(name)
    }
}

impl MachineRecord {
    pub fn settle(&mut self, now: Instant) {
        while self.pending.front().is_some_and(|next| next.due <= now) {
            let Some(next) = self.pending.pop_front() else {
                break;
            };
            self.state = next.state;
            self.started_at = (next.state == "started").then_some(next.due);
            if let Some(event) = next.event {
                self.events.insert(0, event);
            }
        }
        if self.state != "started" {
            self.started_at = None;
        } else if self.started_at.is_none() {
            // Put there by hand (`FlyEmulator::set_machine_state`).
            self.started_at = Some(now);
        }
        if self
            .lease
            .as_ref()
            .is_some_and(|lease| lease.expires_at <= now)
        {
            self.lease = None;
        }
    }

    /// Replaces whatever was scheduled with `states`, one every `step`.
    pub fn schedule(&mut self, now: Instant, step: Duration, states: &[&'static str]) {
        self.pending.clear();
        let Some((first, rest)) = states.split_first() else {
            return;
        };
        self.state = first;
        for (index, state) in rest.iter().enumerate() {
            self.pending.push_back(Pending {
                due: now + step * (index as u32 + 1),
                state,
                event: None,
            });
        }
        self.settle(now);
    }

    /// When the next scheduled state arrives, if any.
    pub fn next_change(&self) -> Option<Instant> {
        self.pending.front().map(|next| next.due)
    }

    pub fn is_settled(&self) -> bool {
        SETTLED_STATES.contains(&self.state)
    }

    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.config.get("metadata")?.get(key)?.as_str()
    }

    /// The machine as Fly returns it. Fly answers `autostop` "off" and "stop"
    /// as the legacy booleans; the emulator does too so clients read both.
    pub fn to_json(&self) -> Value {
        let mut config = self.config.clone();
        if let Some(services) = config.get_mut("services").and_then(Value::as_array_mut) {
            for service in services {
                let legacy = match service.get("autostop").and_then(Value::as_str) {
                    Some("off") => Some(false),
                    Some("stop") => Some(true),
                    _ => None,
                };
                if let Some(flag) = legacy {
                    service["autostop"] = Value::Bool(flag);
                }
            }
        }
        let lease = self.lease.as_ref().map(|lease| {
            json!({"owner": lease.owner, "description": lease.description, "expires_at": lease.expires_at_unix})
        });
        let mut machine = json!({
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "region": self.region,
            "instance_id": self.version,
            "version": self.version,
            "private_ip": format!("fdaa:0:1:a7b:1::{}", &self.id[..4]),
            "config": config,
            "image_ref": image_ref(&config),
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "host_status": self.host_status,
            "events": self.events,
            "checks": self.checks_json(),
        });
        if let Some(lease) = lease {
            machine["lease"] = lease;
        }
        machine
    }
}

impl AppRecord {
    pub fn to_json(&self) -> Value {
        let live = self
            .machines
            .values()
            .filter(|m| m.state != "destroyed")
            .count();
        json!({
            "id": self.id,
            "name": self.name,
            "status": if live > 0 { "deployed" } else { "pending" },
            "organization": {"name": self.org_slug, "slug": self.org_slug},
            "network": self.network.clone().unwrap_or_default(),
            "machine_count": live,
            "volume_count": 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_unique_and_sized() {
        let mut world = World::default();
        let ids: HashSet<String> = (0..10_000).map(|_| world.new_id(14)).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 14));
        assert_eq!(world.new_id(24).len(), 24);
    }

    #[test]
    fn scheduled_states_arrive_in_order() {
        let now = Instant::now();
        let mut machine = MachineRecord {
            id: "m".repeat(14),
            name: "m".to_owned(),
            region: "iad".to_owned(),
            config: Value::Null,
            state: "stopped",
            pending: VecDeque::new(),
            events: Vec::new(),
            crash_exit_code: None,
            host_status: "ok",
            last_inbound: now,
            version: "v".to_owned(),
            lease: None,
            min_secrets_version: None,
            created_at: now,
            started_at: None,
        };
        let step = Duration::from_millis(10);
        machine.schedule(now, step, &["starting", "started"]);
        assert_eq!(machine.state, "starting");
        machine.settle(now + step / 2);
        assert_eq!(machine.state, "starting");
        machine.settle(now + step);
        assert_eq!(machine.state, "started");
        assert!(machine.next_change().is_none());
    }
}
