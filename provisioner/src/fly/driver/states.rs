//! Fly's answers in the seam's terms: machine state names folded into
//! [`MachineState`], and Fly errors into transient or permanent driver
//! errors that keep the Fly error as their source.

use crate::fly::FlyError;
use crate::fly::types::Machine;
use crate::lifecycle::driver::{DriverError, MachineState};

impl From<FlyError> for DriverError {
    fn from(error: FlyError) -> DriverError {
        if error.is_transient() {
            DriverError::transient(error)
        } else {
            DriverError::permanent(error)
        }
    }
}

/// A machine's state as the lifecycle should see it: while Fly cannot reach
/// its host (`host_status` other than `ok`; fly-go `HostStatus`) the state
/// Fly reports is stale, so it is `Unreachable`, which gets a grace period.
pub fn machine_state(machine: &Machine) -> MachineState {
    match machine.host_status.as_deref() {
        None | Some("ok" | "") => parse_state(&machine.state),
        Some(_) => MachineState::Unreachable,
    }
}

/// Fly's state names (superfly/docs `machines/machine-states`). Only
/// `failed` and `launch_failed` are failures; `creating` is on its way to
/// `created`, and a state this code does not know yet counts as transient
/// (the reconciler replaces a machine only once it stays so too long).
pub fn parse_state(state: &str) -> MachineState {
    match state {
        "created" | "creating" => MachineState::Created,
        "failed" | "launch_failed" => MachineState::Failed,
        "starting" | "restarting" | "updating" | "replacing" => MachineState::Starting,
        "started" => MachineState::Started,
        "stopping" => MachineState::Stopping,
        "stopped" => MachineState::Stopped,
        "suspending" => MachineState::Suspending,
        "suspended" => MachineState::Suspended,
        "destroying" => MachineState::Destroying,
        "destroyed" | "replaced" | "migrated" => MachineState::Destroyed,
        _ => MachineState::Starting,
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn fly_states_fold_into_machine_states() {
        assert_eq!(parse_state("started"), MachineState::Started);
        assert_eq!(parse_state("suspending"), MachineState::Suspending);
        assert_eq!(parse_state("replacing"), MachineState::Starting);
        assert_eq!(parse_state("replaced"), MachineState::Destroyed);
        assert_eq!(parse_state("launch_failed"), MachineState::Failed);
        assert_eq!(parse_state("failed"), MachineState::Failed);
        assert_eq!(parse_state("creating"), MachineState::Created);
        assert_eq!(
            parse_state("a-state-fly-adds-later"),
            MachineState::Starting
        );
    }

    #[test]
    fn a_machine_on_an_unreachable_host_is_unreachable_whatever_its_state() {
        let on = |host: Option<&str>| Machine {
            state: "started".to_owned(),
            host_status: host.map(str::to_owned),
            ..Machine::default()
        };
        assert_eq!(machine_state(&on(None)), MachineState::Started);
        assert_eq!(machine_state(&on(Some("ok"))), MachineState::Started);
        assert_eq!(
            machine_state(&on(Some("unreachable"))),
            MachineState::Unreachable
        );
        assert_eq!(
            machine_state(&on(Some("unknown"))),
            MachineState::Unreachable
        );
    }

    #[test]
    fn transient_fly_errors_stay_transient() {
        let transient = DriverError::from(FlyError::Server {
            status: 503,
            body: String::new(),
        });
        assert!(matches!(transient, DriverError::Transient(_)));
        let refused = DriverError::from(FlyError::NameTaken {
            name: "preview-x".to_owned(),
            holder: "another Fly organization".to_owned(),
        });
        assert!(matches!(refused, DriverError::Permanent(_)));
    }

    #[test]
    fn a_driver_error_keeps_the_fly_error_as_its_source() {
        let error = DriverError::from(FlyError::Server {
            status: 503,
            body: "busy".to_owned(),
        });
        let source = error.source().expect("a source");
        assert!(source.downcast_ref::<FlyError>().is_some(), "{source:?}");
    }
}
