//! Apps, their IP assignments and their secrets.

use std::collections::BTreeMap;

use std::time::Duration;

use reqwest::Method;

use super::client::{Call, FlyClient};
use super::error::FlyError;
use super::types::{
    App, AppSecretsUpdateRequest, AppSecretsUpdateResp, AssignIpRequest, CreateAppRequest,
    CreateAppResponse, IpAssignment, IpAssignmentType, ListAppsResponse, ListIpAssignmentsResponse,
};
use super::visibility::until_visible;

impl FlyClient {
    /// Creates the app, or returns it when an earlier attempt of ours got
    /// through: Fly answers 422 `name_taken`, and a GET tells whether the app
    /// is ours to reuse (our organization and our private network, which
    /// carries the deployment; see `identity.rs`).
    #[tracing::instrument(skip_all, fields(fly_app = %request.name))]
    pub async fn create_app(&self, request: &CreateAppRequest) -> Result<App, FlyError> {
        let call = Call::new(
            Method::POST,
            "/v1/apps".to_owned(),
            &request.name,
            "create_app",
        )
        // As fly-go sends it (`flaps/flaps_apps.go`); reads may still lag, see `wait_for_app`.
        .query("wait", "true")
        .json(request);
        let taken = |holder: String| FlyError::NameTaken {
            name: request.name.clone(),
            holder,
        };
        match self.execute(call).await {
            Ok(reply) => {
                let created: CreateAppResponse = reply.json()?;
                Ok(App {
                    id: created.id,
                    name: request.name.clone(),
                    network: request.network.clone(),
                    ..App::default()
                })
            }
            Err(FlyError::NameTaken { .. }) => {
                let existing = match self.get_app(&request.name).await {
                    Ok(app) => app,
                    // Another organization's app is invisible to us (401, 403 or 404).
                    Err(
                        FlyError::NotFound { .. }
                        | FlyError::Unexpected {
                            status: 401 | 403, ..
                        },
                    ) => return Err(taken("another Fly organization".to_owned())),
                    Err(other) => return Err(other),
                };
                let org = existing
                    .organization
                    .as_ref()
                    .and_then(|org| org.slug.as_deref());
                if org != Some(request.org_slug.as_str()) {
                    return Err(taken("another Fly organization".to_owned()));
                }
                if existing.network != request.network {
                    let network = existing.network.unwrap_or_default();
                    return Err(taken(format!(
                        "another deployment or owner in organization {} (its network is {network:?})",
                        request.org_slug
                    )));
                }
                tracing::info!("app exists and is ours; reusing it");
                Ok(existing)
            }
            Err(other) => Err(other),
        }
    }

    /// The app once a `GET` finds it: a just-created app answers 404 or 401
    /// for a while (fly-go `WaitForApp`), retried for at most `budget`.
    pub async fn wait_for_app(&self, app_name: &str, budget: Duration) -> Result<App, FlyError> {
        until_visible(budget, || self.get_app(app_name)).await
    }

    #[tracing::instrument(skip_all, fields(fly_app = %app_name))]
    pub async fn get_app(&self, app_name: &str) -> Result<App, FlyError> {
        let call = Call::new(
            Method::GET,
            format!("/v1/apps/{app_name}"),
            app_name,
            "get_app",
        );
        self.execute(call).await?.json()
    }

    /// Deletes the app and, with it, its machines, IPs and secrets. The spec
    /// declares no `force` parameter for apps, so none is sent.
    #[tracing::instrument(skip_all, fields(fly_app = %app_name))]
    pub async fn delete_app(&self, app_name: &str) -> Result<(), FlyError> {
        let call = Call::new(
            Method::DELETE,
            format!("/v1/apps/{app_name}"),
            app_name,
            "delete_app",
        );
        self.execute(call).await.map(drop)
    }

    /// Every app of the organization, following `next_cursor` pages.
    #[tracing::instrument(skip_all, fields(org = %org_slug))]
    pub async fn list_apps(&self, org_slug: &str) -> Result<Vec<App>, FlyError> {
        let mut apps = Vec::new();
        let mut cursor: Option<String> = None;
        // Bounded: 100 pages of 1000 apps is far beyond what one provisioner manages.
        for _ in 0..100 {
            let mut call = Call::new(Method::GET, "/v1/apps".to_owned(), org_slug, "list_apps")
                .query("org_slug", org_slug)
                .query("limit", "1000");
            if let Some(cursor) = &cursor {
                call = call.query("cursor", cursor.clone());
            }
            let page: ListAppsResponse = self.execute(call).await?.json()?;
            apps.extend(page.apps);
            match page.next_cursor.filter(|next| !next.is_empty()) {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(apps)
    }

    #[tracing::instrument(skip_all, fields(fly_app = %app_name, kind = ?request.ip_type))]
    pub async fn assign_ip(
        &self,
        app_name: &str,
        request: &AssignIpRequest,
    ) -> Result<IpAssignment, FlyError> {
        let path = format!("/v1/apps/{app_name}/ip_assignments");
        let call = Call::new(Method::POST, path, app_name, "assign_ip").json(request);
        self.execute(call).await?.json()
    }

    #[tracing::instrument(skip_all, fields(fly_app = %app_name))]
    pub async fn list_ips(&self, app_name: &str) -> Result<Vec<IpAssignment>, FlyError> {
        let path = format!("/v1/apps/{app_name}/ip_assignments");
        let call = Call::new(Method::GET, path, app_name, "list_ips");
        let list: ListIpAssignmentsResponse = self.execute(call).await?.json()?;
        Ok(list.ips)
    }

    /// Allocates each kind of address in `kinds` the app does not have yet.
    /// Returns the kinds it allocated.
    pub async fn ensure_ips(
        &self,
        app_name: &str,
        kinds: &[IpAssignmentType],
    ) -> Result<Vec<IpAssignmentType>, FlyError> {
        let existing = self.list_ips(app_name).await?;
        let mut allocated = Vec::new();
        for kind in kinds {
            if existing.iter().any(|ip| ip.kind() == Some(*kind)) {
                continue;
            }
            let request = AssignIpRequest {
                ip_type: *kind,
                region: None,
                org_slug: None,
                network: None,
                service_name: None,
            };
            self.assign_ip(app_name, &request).await?;
            allocated.push(*kind);
        }
        Ok(allocated)
    }

    /// Sets secrets (values never logged) and returns the secrets version to
    /// pass as `min_secrets_version` when creating the machine.
    #[tracing::instrument(skip_all, fields(fly_app = %app_name, keys = ?values.keys().collect::<Vec<_>>()))]
    pub async fn set_secrets(
        &self,
        app_name: &str,
        values: BTreeMap<String, String>,
    ) -> Result<Option<i64>, FlyError> {
        let path = format!("/v1/apps/{app_name}/secrets");
        let call = Call::new(Method::POST, path, app_name, "set_secrets")
            .json(AppSecretsUpdateRequest { values });
        let answer: AppSecretsUpdateResp = self.execute(call).await?.json()?;
        Ok(answer.version.or(answer.deprecated_version))
    }
}
