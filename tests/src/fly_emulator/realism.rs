//! Fly's behaviour beyond the spec, each one a switch: what a client written
//! against the spec alone would not expect, and a real organization does.
//!
//! - Read-after-create lag: a new app or machine answers 404 to calls
//!   addressed to it for `visibility_lag`, and is missing from list answers
//!   for `list_lag` (fly-go `flaps/flaps_apps.go` `WaitForApp` retries 404 and
//!   401 after a create; flyctl retries a new machine's 404).
//! - Asynchronous app deletion: `DELETE /v1/apps/{name}` answers 202 and the
//!   app lingers, its machines `destroying`, for `delete_lag`; its name stays
//!   taken meanwhile.
//! - Global names: names in `foreign_names` belong to another organization
//!   (create answers 422 `name_taken`, a GET 403).
//!
//! - Boots that fail: a machine whose image is in `crashing_images` exits
//!   with that code one transition after every start, flyd restarts it
//!   (exit events with restart counts) and finally leaves it `stopped`.
//! - Suspends that end as stops (`suspend_becomes_stop`): the spec's
//!   `Machines_suspend` "will attempt (but is not guaranteed)".
//! - Fly's proxy autostop (`proxy_autostop`): a started machine whose
//!   service does not say `autostop: off` is stopped or suspended once no
//!   proxied request reached it for that long; a proxied request
//!   (`FlyEmulator::proxy_request`) wakes it when the service has
//!   `autostart`. Fly's proxy does this always, so it is on by default.
//! - DNS and proxy warm-up (`proxy_warmup`): a request through the proxy
//!   (`Host: <app>.fly.dev`, see `proxy.rs`) is answered 503 until the app
//!   is that old (its name resolving) and its machine has been started that
//!   long; then the gateway's answer. On by default.
//!
//! Start refusals (`FlyEmulator::refuse_next_starts`) and host trouble
//! (`FlyEmulator::set_host_status`) are one-off events a test triggers.
//!
//! Lags are on by default, in milliseconds, because Fly always has them; a
//! test that counts exact calls turns them off with [`Realism::none`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use super::{Answer, Request, Shared, error};

/// The switches; see the module documentation for what each one models.
#[derive(Clone, Debug)]
pub struct Realism {
    /// How long a new app or machine answers 404 to calls addressed to it.
    pub visibility_lag: Duration,
    /// How long a new app or machine is missing from list answers.
    pub list_lag: Duration,
    /// How long a deleted app lingers (name taken, machines `destroying`).
    pub delete_lag: Duration,
    /// App names held by another organization: 422 on create, 403 on read.
    pub foreign_names: BTreeSet<String>,
    /// Images whose entrypoint exits at once, with the exit code.
    pub crashing_images: BTreeMap<String, i64>,
    /// Whether a suspend ends as a stop.
    pub suspend_becomes_stop: bool,
    /// How long Fly's proxy lets a machine without proxied requests run.
    pub proxy_autostop: Option<Duration>,
    /// How long a new app's name takes to resolve, and a started machine
    /// to be routed to, through Fly's proxy.
    pub proxy_warmup: Duration,
}

impl Default for Realism {
    /// Small lags, as Fly always has them (scaled down to milliseconds).
    fn default() -> Realism {
        Realism {
            visibility_lag: Duration::from_millis(30),
            list_lag: Duration::from_millis(30),
            delete_lag: Duration::from_millis(30),
            foreign_names: BTreeSet::new(),
            crashing_images: BTreeMap::new(),
            suspend_becomes_stop: false,
            proxy_autostop: Some(Duration::from_millis(500)),
            proxy_warmup: Duration::from_millis(150),
        }
    }
}

impl Realism {
    /// Fly as the spec describes it: every write visible at once, deletes immediate.
    pub fn none() -> Realism {
        Realism {
            visibility_lag: Duration::ZERO,
            list_lag: Duration::ZERO,
            delete_lag: Duration::ZERO,
            foreign_names: BTreeSet::new(),
            crashing_images: BTreeMap::new(),
            suspend_becomes_stop: false,
            proxy_autostop: None,
            proxy_warmup: Duration::ZERO,
        }
    }

    /// Default lags plus `names` held by another organization.
    pub fn with_foreign_names(names: &[&str]) -> Realism {
        Realism {
            foreign_names: names.iter().map(|name| (*name).to_owned()).collect(),
            ..Realism::default()
        }
    }
}

/// Whether a call addressed to an app or machine is answered as Fly would
/// while it is new, foreign or gone; `None` lets the operation run.
pub(crate) fn gate(shared: &Shared, request: &Request) -> Option<Answer> {
    if matches!(
        request.operation_id.as_str(),
        "Apps_create" | "Apps_list" | "Apps_delete"
    ) {
        return None;
    }
    let app_name = request.params.get("app_name")?;
    let realism = shared.realism();
    let world = shared.world();
    let now = Instant::now();
    let Some(app) = world.apps.get(app_name) else {
        return realism
            .foreign_names
            .contains(app_name)
            .then(|| error(403, "unauthorized"));
    };
    if now < app.created_at + realism.visibility_lag {
        return Some(error(404, "app not found"));
    }
    let machine = request
        .params
        .get("machine_id")
        .and_then(|id| app.machines.get(id));
    if machine.is_some_and(|machine| now < machine.created_at + realism.visibility_lag) {
        return Some(error(404, "machine not found"));
    }
    None
}
