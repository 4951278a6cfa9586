//! Who a preview app belongs to. Fly app names are global across all of Fly
//! (fly-go `flaps/flaps_error.go`; a `GET` of another organization's app
//! answers 401 or 403, `AppNameAvailable` in `flaps/flaps_apps.go`), and one
//! organization is shared by staging, production and laptops. So each
//! provisioner has a deployment identity (`--deployment`) and a name prefix
//! (`--fly-app-prefix`, default `preview-`): an app is ours only when its
//! private network carries our deployment (`<app name>-<deployment>`, set
//! when we create it), and our machines carry it in their metadata.

use sync_protocol::AppId;

/// Fly refuses longer app names.
pub const MAX_APP_NAME_LEN: usize = 63;
const MAX_DEPLOYMENT_LEN: usize = 20;

/// This provisioner's identity on Fly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    deployment: String,
    prefix: String,
}

impl Identity {
    /// Checks both settings; the error says which flag to change.
    pub fn new(deployment: &str, prefix: &str) -> Result<Identity, String> {
        let lowercase = |text: &str| {
            text.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if deployment.is_empty()
            || deployment.len() > MAX_DEPLOYMENT_LEN
            || !lowercase(deployment)
            || deployment.starts_with('-')
            || deployment.ends_with('-')
        {
            return Err(format!(
                "--deployment (PROVISIONER_DEPLOYMENT) {deployment:?} must be 1 to \
                 {MAX_DEPLOYMENT_LEN} lowercase letters, digits or inner dashes, e.g. production"
            ));
        }
        let longest = prefix.len() + AppId::MAX_LEN;
        if !lowercase(prefix)
            || !prefix.starts_with(|c: char| c.is_ascii_lowercase())
            || longest > MAX_APP_NAME_LEN
        {
            return Err(format!(
                "--fly-app-prefix (FLY_APP_PREFIX) {prefix:?} must start with a lowercase letter, \
                 hold only lowercase letters, digits and dashes, and be at most {} characters \
                 (Fly app names are at most {MAX_APP_NAME_LEN})",
                MAX_APP_NAME_LEN - AppId::MAX_LEN
            ));
        }
        Ok(Identity {
            deployment: deployment.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    pub fn deployment(&self) -> &str {
        &self.deployment
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Fly app of `app_id`'s preview.
    pub fn app_name(&self, app_id: &AppId) -> String {
        format!("{}{app_id}", self.prefix)
    }

    /// Whether Fly accepts `name` as an app name: it may not end with a dash.
    pub fn check_app_name(name: &str) -> Result<(), String> {
        if name.ends_with('-') {
            return Err(format!(
                "Fly app name {name:?} may not end with '-': use an app id that ends with a letter or digit"
            ));
        }
        Ok(())
    }

    /// The app id whose preview `app_name` would be, if it has our prefix.
    pub fn app_id_of(&self, app_name: &str) -> Option<AppId> {
        AppId::parse(app_name.strip_prefix(&self.prefix)?).ok()
    }

    /// The private network our apps are created with: it marks them as this deployment's.
    pub fn network(&self, app_name: &str) -> String {
        format!("{app_name}-{}", self.deployment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_and_prefixes_are_checked_with_the_flag_to_change() {
        let cases = [
            ("production", "preview-", true),
            ("staging-2", "acme-preview-", true),
            ("", "preview-", false),
            ("Prod", "preview-", false),
            ("prod-", "preview-", false),
            ("a-very-long-deployment-name", "preview-", false),
            ("production", "Preview-", false),
            ("production", "-preview", false),
            ("production", "a-prefix-too-long-", false),
        ];
        for (deployment, prefix, ok) in cases {
            let result = Identity::new(deployment, prefix);
            assert_eq!(result.is_ok(), ok, "{deployment:?} {prefix:?}: {result:?}");
            if let Err(message) = result {
                assert!(message.contains("--"), "{message}");
            }
        }
    }

    #[test]
    fn names_networks_and_app_ids_round_trip() {
        let identity = Identity::new("production", "acme-preview-").unwrap();
        let app_id = AppId::parse("shop").unwrap();
        let name = identity.app_name(&app_id);
        assert_eq!(name, "acme-preview-shop");
        assert_eq!(identity.app_id_of(&name), Some(app_id));
        assert_eq!(identity.app_id_of("preview-shop"), None);
        assert_eq!(identity.network(&name), "acme-preview-shop-production");
        let longest = AppId::parse(&"a".repeat(AppId::MAX_LEN)).unwrap();
        assert!(identity.app_name(&longest).len() <= MAX_APP_NAME_LEN);
        assert!(Identity::check_app_name("preview-shop").is_ok());
        assert!(Identity::check_app_name("preview-shop-").is_err());
    }
}
