//! Machines: create, inspect, start, stop, suspend, wait, delete, leases.

use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;

use super::client::{Call, FlyClient, RetryOn};
use super::error::FlyError;
use super::rate_limit::Rate;
use super::types::{
    CreateLeaseRequest, CreateMachineRequest, Lease, LeaseBody, Machine, MachineStartResponse,
    StopRequest, WaitMachineResponse,
};
use super::visibility::until_visible;

/// Fly holds a `wait` for at most 60 seconds.
pub const MAX_WAIT_SECONDS: u64 = 60;

/// The header that proves we hold a machine's lease.
pub const LEASE_NONCE_HEADER: &str = "fly-machine-lease-nonce";

impl FlyClient {
    /// Creates (and launches) a machine. Not retried after an ambiguous
    /// failure, which could leave a second machine: callers list by metadata
    /// before trying again.
    #[tracing::instrument(skip_all, fields(fly_app = %app_name))]
    pub async fn create_machine(
        &self,
        app_name: &str,
        request: &CreateMachineRequest,
    ) -> Result<Machine, FlyError> {
        let path = format!("/v1/apps/{app_name}/machines");
        let mut call = Call::new(Method::POST, path, app_name, "create_machine").json(request);
        call.retry_on = RetryOn::NotProcessed;
        self.execute(call).await?.json()
    }

    #[tracing::instrument(skip_all, fields(fly_app = %app_name, machine = %machine_id))]
    pub async fn get_machine(&self, app_name: &str, machine_id: &str) -> Result<Machine, FlyError> {
        let path = format!("/v1/apps/{app_name}/machines/{machine_id}");
        let mut call = Call::new(Method::GET, path, machine_id, "get_machine");
        call.rate = Rate::GET_MACHINE;
        self.execute(call).await?.json()
    }

    /// The machine once a `GET` finds it: a just-created machine answers 404
    /// for a while (flyctl retries it too), retried for at most `budget`.
    pub async fn wait_for_machine(
        &self,
        app_name: &str,
        machine_id: &str,
        budget: Duration,
    ) -> Result<Machine, FlyError> {
        until_visible(budget, || self.get_machine(app_name, machine_id)).await
    }

    /// The app's machines whose metadata carries every `(key, value)` given.
    #[tracing::instrument(skip_all, fields(fly_app = %app_name))]
    pub async fn list_machines(
        &self,
        app_name: &str,
        metadata: &[(&str, &str)],
    ) -> Result<Vec<Machine>, FlyError> {
        let path = format!("/v1/apps/{app_name}/machines");
        let mut call = Call::new(Method::GET, path, app_name, "list_machines");
        for (key, value) in metadata {
            call = call.query(format!("metadata.{key}"), *value);
        }
        self.execute(call).await?.json()
    }

    #[tracing::instrument(skip_all, fields(fly_app = %app_name, machine = %machine_id))]
    pub async fn start_machine(
        &self,
        app_name: &str,
        machine_id: &str,
        lease_nonce: Option<&str>,
    ) -> Result<(), FlyError> {
        let path = format!("/v1/apps/{app_name}/machines/{machine_id}/start");
        let call = with_nonce(
            Call::new(Method::POST, path, machine_id, "start"),
            lease_nonce,
        );
        let reply = self.execute(call).await?;
        // A 200 can still be a refusal; an empty or odd body is not one.
        let answer: MachineStartResponse = reply.json().unwrap_or_default();
        if answer.status.as_deref() == Some("error") {
            let message = answer.message.unwrap_or_else(|| "start refused".to_owned());
            return Err(FlyError::Capacity { message });
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(fly_app = %app_name, machine = %machine_id))]
    pub async fn stop_machine(
        &self,
        app_name: &str,
        machine_id: &str,
        request: &StopRequest,
        lease_nonce: Option<&str>,
    ) -> Result<(), FlyError> {
        let path = format!("/v1/apps/{app_name}/machines/{machine_id}/stop");
        let call = Call::new(Method::POST, path, machine_id, "stop").json(request);
        self.execute(with_nonce(call, lease_nonce)).await.map(drop)
    }

    #[tracing::instrument(skip_all, fields(fly_app = %app_name, machine = %machine_id))]
    pub async fn suspend_machine(
        &self,
        app_name: &str,
        machine_id: &str,
        lease_nonce: Option<&str>,
    ) -> Result<(), FlyError> {
        let path = format!("/v1/apps/{app_name}/machines/{machine_id}/suspend");
        let call = with_nonce(
            Call::new(Method::POST, path, machine_id, "suspend"),
            lease_nonce,
        );
        self.execute(call).await.map(drop)
    }

    /// One `wait` call: blocks on Fly's side up to `timeout` (at most 60 s)
    /// until the machine is in one of `states`. A 408 becomes `Timeout`.
    #[tracing::instrument(skip_all, fields(fly_app = %app_name, machine = %machine_id, states = %states.join(",")))]
    pub async fn wait_machine(
        &self,
        app_name: &str,
        machine_id: &str,
        states: &[&str],
        timeout: Duration,
        version: Option<&str>,
    ) -> Result<WaitMachineResponse, FlyError> {
        let seconds = timeout.as_secs().clamp(1, MAX_WAIT_SECONDS);
        let path = format!("/v1/apps/{app_name}/machines/{machine_id}/wait");
        let mut call = Call::new(Method::GET, path, machine_id, "wait")
            .query("state", states.join(","))
            .query("timeout", seconds.to_string());
        if let Some(version) = version {
            call = call.query("version", version);
        }
        call.retry_timeouts = false;
        call.timeout = Some(Duration::from_secs(seconds + 15));
        self.execute(call).await?.json()
    }

    /// Waits until the machine is in one of `states`, calling `wait` as often
    /// as needed (each call at most 60 s) until `budget` is spent.
    pub async fn wait_for_state(
        &self,
        app_name: &str,
        machine_id: &str,
        states: &[&str],
        budget: Duration,
        version: Option<&str>,
    ) -> Result<(), FlyError> {
        let deadline = Instant::now() + budget;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(FlyError::Timeout {
                    what: format!("machine {machine_id} to be {}", states.join(" or ")),
                });
            }
            match self
                .wait_machine(app_name, machine_id, states, left, version)
                .await
            {
                Ok(_) => return Ok(()),
                Err(FlyError::Timeout { .. }) => {}
                Err(other) => return Err(other),
            }
        }
    }

    /// Deletes one machine; `force` stops it first.
    #[tracing::instrument(skip_all, fields(fly_app = %app_name, machine = %machine_id))]
    pub async fn delete_machine(
        &self,
        app_name: &str,
        machine_id: &str,
        force: bool,
        lease_nonce: Option<&str>,
    ) -> Result<(), FlyError> {
        let path = format!("/v1/apps/{app_name}/machines/{machine_id}");
        let mut call = Call::new(Method::DELETE, path, machine_id, "delete_machine");
        if force {
            call = call.query("force", "true");
        }
        self.execute(with_nonce(call, lease_nonce)).await.map(drop)
    }

    /// Takes the machine's lease for `ttl_seconds`; the returned nonce goes
    /// on every mutating call while it is held.
    #[tracing::instrument(skip_all, fields(fly_app = %app_name, machine = %machine_id))]
    pub async fn acquire_lease(
        &self,
        app_name: &str,
        machine_id: &str,
        ttl_seconds: u64,
        description: &str,
    ) -> Result<Lease, FlyError> {
        let path = format!("/v1/apps/{app_name}/machines/{machine_id}/lease");
        let body = CreateLeaseRequest {
            ttl: ttl_seconds,
            description: Some(description.to_owned()),
        };
        let mut call = Call::new(Method::POST, path, machine_id, "lease").json(body);
        // A lost answer would leave us a lease we do not know the nonce of; it expires by itself.
        call.retry_on = RetryOn::NotProcessed;
        let body: LeaseBody = self.execute(call).await?.json()?;
        Ok(body.into_lease())
    }

    #[tracing::instrument(skip_all, fields(fly_app = %app_name, machine = %machine_id))]
    pub async fn get_lease(&self, app_name: &str, machine_id: &str) -> Result<Lease, FlyError> {
        let path = format!("/v1/apps/{app_name}/machines/{machine_id}/lease");
        let call = Call::new(Method::GET, path, machine_id, "get_lease");
        let body: LeaseBody = self.execute(call).await?.json()?;
        Ok(body.into_lease())
    }

    #[tracing::instrument(skip_all, fields(fly_app = %app_name, machine = %machine_id))]
    pub async fn release_lease(
        &self,
        app_name: &str,
        machine_id: &str,
        nonce: &str,
    ) -> Result<(), FlyError> {
        let path = format!("/v1/apps/{app_name}/machines/{machine_id}/lease");
        let call = with_nonce(
            Call::new(Method::DELETE, path, machine_id, "release_lease"),
            Some(nonce),
        );
        self.execute(call).await.map(drop)
    }
}

fn with_nonce(mut call: Call, nonce: Option<&str>) -> Call {
    if let Some(nonce) = nonce {
        call.headers.push((LEASE_NONCE_HEADER, nonce.to_owned()));
    }
    call
}
