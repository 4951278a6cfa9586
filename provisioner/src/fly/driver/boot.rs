//! Whether a machine really came up. `started` is not ready: an entrypoint
//! can exit at once and flyd restart it (`restart: on-failure`) until it
//! gives up and leaves the machine `stopped`. So a boot is watched by reading
//! the machine, its `events` (exits with their codes, restart counts: flyctl
//! `internal/machine/leasable_machine.go` reads them the same way) and its
//! checks (the gateway's health route), until it is started with its checks
//! passing, or it crashed often enough to call it a crash loop.

use std::time::Duration;

use tokio::time::Instant;

use super::FlyDriver;
use crate::fly::types::Machine;
use crate::lifecycle::driver::DriverError;

/// Unrequested exits after which a boot counts as a crash loop.
pub const CRASH_LIMIT: usize = 3;

/// What one look at a booting machine says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Boot {
    /// Started, and every check passes.
    Ready,
    /// On its way (starting, started with checks not passing yet).
    Waiting,
    /// Stopped or suspended without crashing: someone or something put it to sleep.
    Asleep,
    /// The entrypoint kept exiting.
    Crashed {
        exit_code: i64,
        exits: usize,
        restarts: u32,
    },
    /// Fly gave up on the machine (`failed`).
    Failed,
}

/// Judges one reading of the machine; only events newer than `since_ms`
/// (the newest event seen before this boot began) count.
pub fn judge_boot(machine: &Machine, since_ms: i64) -> Boot {
    let crashes: Vec<_> = machine
        .events
        .iter()
        .filter(|event| event.timestamp > since_ms)
        .filter_map(|event| Some((event.crash()?, event.restart_count())))
        .collect();
    let settled_down = matches!(machine.state.as_str(), "stopped" | "failed");
    if let Some((latest, _)) = crashes.first()
        && (crashes.len() >= CRASH_LIMIT || settled_down)
    {
        let restarts = crashes
            .iter()
            .filter_map(|(_, restarts)| *restarts)
            .max()
            .unwrap_or(0);
        return Boot::Crashed {
            exit_code: latest.exit_code,
            exits: crashes.len(),
            restarts,
        };
    }
    match machine.state.as_str() {
        "failed" | "launch_failed" => Boot::Failed,
        "stopped" | "suspended" => Boot::Asleep,
        "started" if machine.checks.iter().all(|check| check.status == "passing") => Boot::Ready,
        _ => Boot::Waiting,
    }
}

/// The newest event's time: what a boot starting now compares against.
pub fn newest_event_ms(machine: &Machine) -> i64 {
    machine
        .events
        .iter()
        .map(|event| event.timestamp)
        .max()
        .unwrap_or(0)
}

impl FlyDriver {
    /// Waits (Fly's `wait`) until the machine has booted or come down, then
    /// reads it until it is ready, crashed or the wait budget is spent. A
    /// machine found asleep (autostopped before we looked) is started once.
    pub(super) async fn await_boot(
        &self,
        name: &str,
        machine_id: &str,
        version: Option<&str>,
        since_ms: i64,
        lease_nonce: Option<&str>,
    ) -> Result<Machine, DriverError> {
        let deadline = Instant::now() + self.config.wait_budget;
        let landed = ["started", "stopped", "suspended", "failed"];
        self.wait(name, machine_id, &landed, version).await?;
        let mut delay = Duration::from_millis(50);
        let mut woken = false;
        loop {
            let machine = self.client.get_machine(name, machine_id).await?;
            match judge_boot(&machine, since_ms) {
                Boot::Ready => return Ok(machine),
                Boot::Crashed {
                    exit_code,
                    exits,
                    restarts,
                } => {
                    return Err(DriverError::permanent(format!(
                        "the preview's entrypoint exited with code {exit_code} ({exits} exits, \
                         restarted {restarts} times); its output is in `fly logs -a {name}`"
                    )));
                }
                Boot::Failed => {
                    return Err(DriverError::permanent(format!(
                        "machine {machine_id} failed to launch"
                    )));
                }
                Boot::Asleep if !woken => {
                    woken = true;
                    let nonce = lease_nonce;
                    self.client.start_machine(name, machine_id, nonce).await?;
                }
                Boot::Asleep | Boot::Waiting => {}
            }
            if Instant::now() + delay >= deadline {
                return Err(DriverError::transient(format!(
                    "machine {machine_id} did not become ready within {:?} (state {})",
                    self.config.wait_budget, machine.state
                )));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fly::types::{CheckStatus, MachineEvent, MachineEventRequest, MachineExitEvent};

    fn exit(at: i64, code: i64, restarts: u32) -> MachineEvent {
        MachineEvent {
            kind: "exit".to_owned(),
            timestamp: at,
            request: Some(MachineEventRequest {
                exit_event: Some(MachineExitEvent {
                    exit_code: code,
                    ..MachineExitEvent::default()
                }),
                restart_count: Some(restarts),
            }),
            ..MachineEvent::default()
        }
    }

    fn machine(state: &str, checks: &[&str], events: Vec<MachineEvent>) -> Machine {
        Machine {
            state: state.to_owned(),
            checks: checks
                .iter()
                .map(|status| CheckStatus {
                    status: (*status).to_owned(),
                    ..CheckStatus::default()
                })
                .collect(),
            events,
            ..Machine::default()
        }
    }

    #[test]
    fn a_boot_is_judged_from_state_checks_and_exits() {
        let crashed = |code, exits, restarts| Boot::Crashed {
            exit_code: code,
            exits,
            restarts,
        };
        let loop_events = || vec![exit(30, 7, 2), exit(20, 7, 1), exit(10, 7, 0)];
        let cases = [
            (machine("started", &["passing"], vec![]), 0, Boot::Ready),
            (machine("started", &[], vec![]), 0, Boot::Ready),
            (machine("started", &["critical"], vec![]), 0, Boot::Waiting),
            (machine("starting", &[], vec![]), 0, Boot::Waiting),
            (machine("stopped", &[], vec![]), 0, Boot::Asleep),
            (machine("failed", &[], vec![]), 0, Boot::Failed),
            // Three exits: a crash loop even while flyd is restarting it.
            (machine("starting", &[], loop_events()), 0, crashed(7, 3, 2)),
            // One exit, then flyd gave up (restart policy exhausted).
            (
                machine("stopped", &[], vec![exit(10, 1, 0)]),
                0,
                crashed(1, 1, 0),
            ),
            // One exit while it restarts: not yet a loop.
            (
                machine("starting", &[], vec![exit(10, 1, 0)]),
                0,
                Boot::Waiting,
            ),
            // Exits from before this boot do not count.
            (machine("starting", &[], loop_events()), 30, Boot::Waiting),
        ];
        for (reading, since, expected) in cases {
            assert_eq!(judge_boot(&reading, since), expected, "{reading:?}");
        }
    }

    #[test]
    fn the_newest_event_marks_where_a_new_boot_begins() {
        let reading = machine("stopped", &[], vec![exit(30, 0, 0), exit(50, 0, 0)]);
        assert_eq!(newest_event_ms(&reading), 50);
        assert_eq!(newest_event_ms(&machine("created", &[], vec![])), 0);
    }
}
