//! What the supervisor runs, decided again before every (re)start from the
//! files on disk: `--exec`/`--install` when given (explicit overrides),
//! else what `detect` finds. Also the environment every command gets.

use std::collections::BTreeSet;
use std::path::Path;

use sync_protocol::RuntimeReport;

use super::detect::{self, Framework, PackageJson};

/// `--exec auto`: detect the dev command from the app's files.
pub const AUTO: &str = "auto";

/// One start of the dev server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// `None` when the app has no `package.json` (nothing to install).
    pub install: Option<String>,
    pub dev: String,
    pub framework: Option<Framework>,
    pub package_manager: Option<&'static str>,
    /// A plain Node server has no hot reload of its own: the supervisor
    /// restarts it on every applied revision unless it watches its files
    /// itself (`node --watch`, nodemon, ...).
    pub restart_on_change: bool,
    /// The port the dev server is told (or, set by the app, insists on).
    pub dev_port: u16,
    /// The app's own environment, from its settings.
    pub app_env: Vec<(String, String)>,
}

impl Launch {
    /// Reads `package.json` and the top-level file names of `dir`.
    pub fn plan(dir: &Path, exec: &str, install: Option<&str>, dev_port: u16) -> Launch {
        let text = std::fs::read_to_string(dir.join("package.json")).ok();
        let package: Option<PackageJson> = text.as_deref().map(|text| {
            serde_json::from_str(text).unwrap_or_else(|error| {
                tracing::warn!(%error, "package.json does not parse; starting without its scripts");
                PackageJson::default()
            })
        });
        let files: BTreeSet<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| entry.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        Launch::decide(package.as_ref(), &files, exec, install, dev_port)
    }

    /// The decision itself, from what `plan` read.
    pub fn decide(
        package: Option<&PackageJson>,
        files: &BTreeSet<String>,
        exec: &str,
        install: Option<&str>,
        dev_port: u16,
    ) -> Launch {
        let empty = PackageJson::default();
        let framework = detect::framework(package.unwrap_or(&empty), files);
        let manager = package.map(|package| detect::package_manager(package, files));
        let install = package.map(|_| match (install, manager) {
            (Some(explicit), _) => explicit.to_owned(),
            (None, manager) => detect::install_command(manager.unwrap_or("npm")),
        });
        let dev = match (exec, framework) {
            (AUTO, Some(framework)) => detect::dev_command(
                framework,
                package.unwrap_or(&empty),
                files,
                manager.unwrap_or("npm"),
                dev_port,
            ),
            // Nothing recognisable yet: the usual command, which fails
            // loudly (and is retried) until the app's files arrive.
            (AUTO, None) => "npm run dev".to_owned(),
            (explicit, _) => explicit.to_owned(),
        };
        let scripts = package.map(|package| &package.scripts);
        let watches = detect::watches_files(&dev)
            || ["dev", "start"].iter().any(|name| {
                scripts
                    .and_then(|scripts| scripts.get(*name))
                    .is_some_and(|script| detect::watches_files(script))
            });
        let restart_on_change = framework == Some(Framework::Node) && !watches;
        Launch {
            install,
            dev,
            framework,
            package_manager: manager,
            restart_on_change,
            dev_port,
            app_env: Vec::new(),
        }
    }

    /// The app's own variables, from its settings.
    pub fn with_env(self, env: impl IntoIterator<Item = (String, String)>) -> Launch {
        Launch {
            app_env: env.into_iter().collect(),
            ..self
        }
    }

    /// What the install and the dev server get besides the daemon's own
    /// environment: the app's variables, then the preview's, which win.
    pub fn environment(&self) -> Vec<(&str, String)> {
        let mut environment: Vec<(&str, String)> = self
            .app_env
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        environment.extend(environment_for(self.dev_port));
        environment
    }

    pub fn report(&self, gateway_port: u16) -> RuntimeReport {
        RuntimeReport {
            framework: self.framework.map(Framework::name),
            package_manager: self.package_manager.map(str::to_owned),
            install_command: self.install.clone(),
            dev_command: self.dev.clone(),
            dev_port: self.dev_port,
            upstream_port: None,
            gateway_port,
        }
    }
}

/// The environment of the install and the dev server, besides the
/// daemon's own (from which the sync token is removed).
fn environment_for(dev_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("PORT", dev_port.to_string()),
        ("HOST", "127.0.0.1".to_owned()),
        // Installs and CLIs never wait for a question nobody answers.
        ("CI", "true".to_owned()),
        ("BROWSER", "none".to_owned()),
        ("NEXT_TELEMETRY_DISABLED", "1".to_owned()),
        ("NUXT_TELEMETRY_DISABLED", "1".to_owned()),
        ("ASTRO_TELEMETRY_DISABLED", "1".to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn explicit_commands_win_and_detection_fills_the_rest() {
        let vite: PackageJson =
            serde_json::from_str(r#"{"scripts":{"dev":"vite"},"devDependencies":{"vite":"7"}}"#)
                .unwrap();
        let names = files(&["package.json", "yarn.lock"]);
        let cases = [
            (
                Some(&vite),
                AUTO,
                None,
                Some("if command -v yarn"),
                "yarn run dev --port 9 --host 127.0.0.1 --strictPort",
            ),
            (
                Some(&vite),
                "node x.js",
                Some("make deps"),
                Some("make deps"),
                "node x.js",
            ),
            (None, AUTO, None, None, "npm run dev"),
        ];
        for (package, exec, install, expected_install, expected_dev) in cases {
            let launch = Launch::decide(package, &names, exec, install, 9);
            assert_eq!(launch.dev, expected_dev);
            match expected_install {
                Some(prefix) => assert!(launch.install.unwrap().starts_with(prefix)),
                None => assert_eq!(launch.install, None),
            }
        }
    }
}
