//! Every [`PlatformDriver`] is a [`PreviewDriver`]: this is the one place a
//! recorded step name becomes a driver's step value and the stored strings
//! become its data struct, and back. A data struct is written back only
//! after the call, whether it failed or not: a step that made something
//! (a machine id) before failing keeps what it learned.

use async_trait::async_trait;
use sync_protocol::AppId;

use crate::lifecycle::driver::{
    DriverData, DriverError, MachineState, PlatformDriver, PlatformPreview, PreviewDriver,
    PreviewSpec, Step, Steps,
};

/// The step value a recorded name stands for.
fn typed_step<S: Steps>(step: Step) -> Result<S, DriverError> {
    S::ALL
        .iter()
        .copied()
        .find(|typed| typed.name() == step.name())
        .ok_or_else(|| {
            DriverError::permanent(format!(
                "step {step} belongs to another driver; provision again"
            ))
        })
}

#[async_trait]
impl<D: PlatformDriver> PreviewDriver for D {
    fn steps(&self) -> Vec<Step> {
        D::Step::ALL.iter().map(|step| step.step()).collect()
    }

    async fn run_step(
        &self,
        step: Step,
        spec: &PreviewSpec,
        data: &mut DriverData,
    ) -> Result<String, DriverError> {
        let step = typed_step::<D::Step>(step)?;
        let mut typed: D::Data = data.decode()?;
        let result = PlatformDriver::run_step(self, step, spec, &mut typed).await;
        *data = DriverData::encode(&typed)?;
        result
    }

    async fn state(&self, app_id: &AppId, data: &DriverData) -> Result<MachineState, DriverError> {
        PlatformDriver::state(self, app_id, &data.decode()?).await
    }

    async fn start(&self, app_id: &AppId, data: &mut DriverData) -> Result<(), DriverError> {
        let mut typed: D::Data = data.decode()?;
        let result = PlatformDriver::start(self, app_id, &mut typed).await;
        *data = DriverData::encode(&typed)?;
        result
    }

    async fn stop(
        &self,
        app_id: &AppId,
        data: &mut DriverData,
        mode: crate::lifecycle::driver::StopMode,
    ) -> Result<(), DriverError> {
        let mut typed: D::Data = data.decode()?;
        let result = PlatformDriver::stop(self, app_id, &mut typed, mode).await;
        *data = DriverData::encode(&typed)?;
        result
    }

    async fn destroy(&self, app_id: &AppId, data: &DriverData) -> Result<(), DriverError> {
        PlatformDriver::destroy(self, app_id, &data.decode()?).await
    }

    async fn discard_machine(
        &self,
        app_id: &AppId,
        data: &mut DriverData,
    ) -> Result<Step, DriverError> {
        let mut typed: D::Data = data.decode()?;
        let result = PlatformDriver::discard_machine(self, app_id, &mut typed).await;
        *data = DriverData::encode(&typed)?;
        result.map(Steps::step)
    }

    fn url(&self, app_id: &AppId, data: &DriverData) -> String {
        match data.decode() {
            Ok(typed) => PlatformDriver::url(self, app_id, &typed),
            // Unreadable facts are reported by every other call; the URL falls back to the defaults.
            Err(_) => PlatformDriver::url(self, app_id, &D::Data::default()),
        }
    }

    async fn list(&self) -> Result<Vec<PlatformPreview>, DriverError> {
        PlatformDriver::list(self)
            .await?
            .into_iter()
            .map(|(app_id, state, typed)| {
                Ok(PlatformPreview {
                    app_id,
                    state,
                    data: DriverData::encode(&typed)?,
                })
            })
            .collect()
    }

    fn loopback_port(&self, app_id: &AppId) -> Option<u16> {
        PlatformDriver::loopback_port(self, app_id)
    }

    async fn shutdown(&self) {
        PlatformDriver::shutdown(self).await
    }
}
