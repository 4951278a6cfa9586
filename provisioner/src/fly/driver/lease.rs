//! Leases around power calls. Two provisioner instances (or a person with
//! `fly machine stop`) must not act on one machine at once: like flyctl
//! (`internal/machine/leasable_machine.go`, `AcquireLeases` in
//! `internal/command/machine/start.go`), a start, stop or destroy first takes
//! the machine's lease (`POST …/lease`), sends its nonce
//! (`fly-machine-lease-nonce`) on every call, and releases it after. A lease
//! someone else holds answers 409: a transient error, tried again later.

use crate::fly::FlyError;
use crate::lifecycle::driver::DriverError;

use super::FlyDriver;

/// Extra seconds a lease outlives the driver's wait budget.
const LEASE_SLACK_SECONDS: u64 = 30;

/// A lease we hold on one machine.
pub(super) struct HeldLease {
    app_name: String,
    machine_id: String,
    pub nonce: String,
}

impl FlyDriver {
    /// Takes the machine's lease for as long as one operation may take.
    pub(super) async fn take_lease(
        &self,
        app_name: &str,
        machine_id: &str,
        purpose: &str,
    ) -> Result<HeldLease, DriverError> {
        let ttl = self.config.wait_budget.as_secs() + LEASE_SLACK_SECONDS;
        let description = format!(
            "preview-provisioner {}: {purpose}",
            self.config.identity.deployment()
        );
        match self
            .client
            .acquire_lease(app_name, machine_id, ttl, &description)
            .await
        {
            Ok(lease) => Ok(HeldLease {
                app_name: app_name.to_owned(),
                machine_id: machine_id.to_owned(),
                nonce: lease.nonce,
            }),
            Err(FlyError::Unexpected { status: 409, body }) => {
                Err(DriverError::transient(format!(
                    "machine {machine_id} is leased by someone else ({body}); trying again later"
                )))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Gives the lease back; a failure only delays others until it expires.
    pub(super) async fn release_lease(&self, lease: HeldLease) {
        let released = self
            .client
            .release_lease(&lease.app_name, &lease.machine_id, &lease.nonce)
            .await;
        match released {
            Ok(()) | Err(FlyError::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(machine = %lease.machine_id, %error, "lease not released; it expires by itself");
            }
        }
    }
}
