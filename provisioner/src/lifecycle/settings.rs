//! How previews behave: the lifecycle's settings, plain values that `serve`
//! fills from its flags (see `crate::config`) and tests fill by hand.

use std::time::Duration;

/// What the idle reaper does to an idle preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Autostop {
    /// Snapshot memory when idle; resumes in a few hundred milliseconds.
    Suspend,
    /// Shut the VM down when idle; the next start is a cold boot.
    Stop,
    /// Never stop on idle.
    Off,
}

impl std::str::FromStr for Autostop {
    type Err = String;

    fn from_str(text: &str) -> Result<Autostop, String> {
        match text {
            "suspend" => Ok(Autostop::Suspend),
            "stop" => Ok(Autostop::Stop),
            "off" => Ok(Autostop::Off),
            other => Err(format!("{other:?} is not suspend, stop or off")),
        }
    }
}

/// How previews behave; from the command line in `serve`.
#[derive(Clone, Debug)]
pub struct LifecycleConfig {
    /// A running preview without activity for this long is stopped or suspended.
    pub idle_timeout: Duration,
    /// A preview without activity for this long is destroyed (its files are kept).
    pub delete_after: Duration,
    /// What the idle reaper does to an idle preview.
    pub autostop: Autostop,
    /// URL at which preview daemons reach this provisioner.
    pub server_url: String,
    /// A machine in a transient state for longer than this is replaced.
    pub stuck_after: Duration,
    /// A platform preview unknown to the store is destroyed after this long.
    pub orphan_grace: Duration,
    /// Attempts at a step that fails transiently before it is left to the reconciler.
    pub step_attempts: u32,
}

impl LifecycleConfig {
    pub fn new(server_url: String) -> LifecycleConfig {
        LifecycleConfig {
            idle_timeout: Duration::from_secs(600),
            delete_after: Duration::from_secs(30 * 86_400),
            autostop: Autostop::Suspend,
            server_url,
            stuck_after: Duration::from_secs(300),
            orphan_grace: Duration::from_secs(300),
            step_attempts: 3,
        }
    }
}
