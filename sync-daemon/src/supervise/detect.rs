//! Which framework an app uses and how to start its dev server on the port
//! the gateway forwards to, decided from its files alone: `package.json`
//! (dependencies, scripts, `packageManager`), config files and lockfiles.
//! Pure functions, tested as tables; `plan` in `mod.rs` reads the files.
//!
//! The dev server is told its port and address the framework's own way
//! (`--port N --host 127.0.0.1 --strictPort` for Vite, `-p N -H 127.0.0.1`
//! for Next, `PORT`/`HOST` for the rest); an app that still listens
//! elsewhere is found by the supervisor and forwarded to anyway.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// Files a plain Node app starts from, in the order tried.
const ENTRY_FILES: [&str; 5] = ["server.js", "index.js", "app.js", "main.js", "server.mjs"];

/// The parts of `package.json` that matter here.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageJson {
    #[serde(default)]
    pub scripts: BTreeMap<String, String>,
    #[serde(default)]
    pub dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub dev_dependencies: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub package_manager: Option<String>,
}

impl PackageJson {
    fn has(&self, name: &str) -> bool {
        self.dependencies.contains_key(name) || self.dev_dependencies.contains_key(name)
    }
}

/// An app's framework, with what it needs to be told its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    Next,
    Nuxt,
    SvelteKit,
    Astro,
    Remix,
    ReactRouter,
    CreateReactApp,
    /// Vite with the UI library named (`react`, `vue`, ...), or plain.
    Vite(&'static str),
    /// A `package.json` whose start is a Node program of its own.
    Node,
}

impl Framework {
    pub fn name(self) -> String {
        match self {
            Framework::Next => "next".to_owned(),
            Framework::Nuxt => "nuxt".to_owned(),
            Framework::SvelteKit => "sveltekit".to_owned(),
            Framework::Astro => "astro".to_owned(),
            Framework::Remix => "remix".to_owned(),
            Framework::ReactRouter => "react-router".to_owned(),
            Framework::CreateReactApp => "create-react-app".to_owned(),
            Framework::Vite("") => "vite".to_owned(),
            Framework::Vite(library) => format!("vite-{library}"),
            Framework::Node => "node".to_owned(),
        }
    }

    /// The dev commands of the framework's tool (the first is the default
    /// when the app has no usable script); appended flags reach only these.
    fn dev_clis(self) -> &'static [&'static str] {
        match self {
            Framework::Next => &["next dev", "next"],
            Framework::Nuxt => &["nuxt dev", "nuxi dev", "nuxt", "nuxi"],
            Framework::SvelteKit => &["vite dev", "vite"],
            Framework::Vite(_) => &["vite", "vite dev", "vite serve"],
            Framework::Astro => &["astro dev", "astro"],
            Framework::Remix => &["remix vite:dev"],
            Framework::ReactRouter => &["react-router dev"],
            Framework::CreateReactApp => &["react-scripts start"],
            Framework::Node => &[],
        }
    }

    /// Flags that force port and address, for a command that runs [`cli`].
    fn port_flags(self, port: u16) -> Vec<String> {
        let flags = match self {
            Framework::Next => format!("-p {port} -H 127.0.0.1"),
            Framework::Vite(_)
            | Framework::SvelteKit
            | Framework::Remix
            | Framework::ReactRouter => {
                format!("--port {port} --host 127.0.0.1 --strictPort")
            }
            Framework::Astro | Framework::Nuxt => format!("--port {port} --host 127.0.0.1"),
            // Reads PORT and HOST from the environment.
            Framework::CreateReactApp | Framework::Node => String::new(),
        };
        flags.split_whitespace().map(str::to_owned).collect()
    }
}

/// The framework, from dependencies first, then config files, then a
/// server file; `None` for a directory that is not a Node app.
pub fn framework(package: &PackageJson, files: &BTreeSet<String>) -> Option<Framework> {
    let config = |stem: &str| {
        ["js", "mjs", "cjs", "ts", "mts"]
            .iter()
            .any(|ext| files.contains(&format!("{stem}.{ext}")))
    };
    let by_dependency = [
        ("next", Framework::Next),
        ("nuxt", Framework::Nuxt),
        ("@sveltejs/kit", Framework::SvelteKit),
        ("astro", Framework::Astro),
        ("@react-router/dev", Framework::ReactRouter),
        ("@remix-run/dev", Framework::Remix),
        ("react-scripts", Framework::CreateReactApp),
    ];
    if let Some((_, found)) = by_dependency.iter().find(|(name, _)| package.has(name)) {
        return Some(*found);
    }
    if package.has("vite") || config("vite.config") {
        let libraries = [
            ("react", "react"),
            ("vue", "vue"),
            ("svelte", "svelte"),
            ("solid-js", "solid"),
            ("preact", "preact"),
            ("lit", "lit"),
        ];
        let library = libraries
            .iter()
            .find(|(dependency, _)| package.has(dependency))
            .map_or("", |(_, name)| name);
        return Some(Framework::Vite(library));
    }
    if config("next.config") {
        return Some(Framework::Next);
    }
    if config("nuxt.config") {
        return Some(Framework::Nuxt);
    }
    if config("astro.config") {
        return Some(Framework::Astro);
    }
    let has_entry = ENTRY_FILES.iter().any(|name| files.contains(*name));
    (has_entry || package.scripts.contains_key("dev") || package.scripts.contains_key("start"))
        .then_some(Framework::Node)
}

/// npm, pnpm, yarn or bun: `packageManager` first, then the lockfile.
pub fn package_manager(package: &PackageJson, files: &BTreeSet<String>) -> &'static str {
    const MANAGERS: [&str; 4] = ["pnpm", "yarn", "bun", "npm"];
    if let Some(declared) = &package.package_manager
        && let Some(name) = MANAGERS
            .iter()
            .find(|name| declared.split('@').next() == Some(**name))
    {
        return name;
    }
    let lockfiles = [
        ("pnpm-lock.yaml", "pnpm"),
        ("yarn.lock", "yarn"),
        ("bun.lock", "bun"),
        ("bun.lockb", "bun"),
    ];
    lockfiles
        .iter()
        .find(|(lockfile, _)| files.contains(*lockfile))
        .map_or("npm", |(_, manager)| manager)
}

/// The non-interactive install command of a package manager (run with
/// `CI=true`); a manager missing from the image is fetched through npx.
/// npm prefers its cache over asking the registry again: with a shared or
/// baked-in cache, a second app with the same dependencies then resolves
/// from disk (`bash bench/package-cache.sh`).
pub fn install_command(manager: &str) -> String {
    match manager {
        "npm" => "npm install --no-audit --no-fund --prefer-offline".to_owned(),
        other => format!(
            "if command -v {other} >/dev/null 2>&1; then {other} install; else npx --yes {other} install; fi"
        ),
    }
}

/// The dev command: the `dev` script, else `start`, else the framework's
/// default, with the framework's port flags when the command runs its dev
/// CLI. A `start` script that does not run the dev CLI (`next start` needs
/// a build) gives way to the framework's default.
pub fn dev_command(
    framework: Framework,
    package: &PackageJson,
    files: &BTreeSet<String>,
    manager: &str,
    port: u16,
) -> String {
    let clis = framework.dev_clis();
    let runs_cli = |script: &str| clis.iter().any(|cli| runs(script, cli));
    let script = ["dev", "start"].into_iter().find(|name| {
        package
            .scripts
            .get(*name)
            .is_some_and(|script| *name == "dev" || clis.is_empty() || runs_cli(script))
    });
    let flags = framework.port_flags(port).join(" ");
    if let Some(name) = script {
        let run = match manager {
            "npm" => format!("npm run {name}"),
            other => format!("{other} run {name}"),
        };
        return match (
            runs_cli(&package.scripts[name]) && !flags.is_empty(),
            manager,
        ) {
            (false, _) => run,
            (true, "npm") => format!("{run} -- {flags}"),
            (true, _) => format!("{run} {flags}"),
        };
    }
    match clis.first() {
        Some(cli) if flags.is_empty() => format!("node_modules/.bin/{cli}"),
        Some(cli) => format!("node_modules/.bin/{cli} {flags}"),
        None => {
            let entry = ENTRY_FILES
                .into_iter()
                .find(|name| files.contains(*name))
                .unwrap_or("index.js");
            format!("node {entry}")
        }
    }
}

/// Whether the last command of a script (after `&&`, `;`, `VAR=value`
/// prefixes, `cross-env` and `npx`) is `cli` followed by nothing or flags:
/// `vite --open` runs `vite`, `vite build` does not.
pub fn runs(script: &str, cli: &str) -> bool {
    let last = script.rsplit(['&', ';', '|']).next().unwrap_or(script);
    let mut words = last
        .split_whitespace()
        .skip_while(|word| word.contains('=') || *word == "cross-env" || *word == "npx")
        .map(|word| word.rsplit('/').next().unwrap_or(word));
    for expected in cli.split_whitespace() {
        if words.next() != Some(expected) {
            return false;
        }
    }
    words.next().is_none_or(|next| next.starts_with('-'))
}

/// Whether a dev command (or the script it runs) restarts itself when
/// files change.
pub fn watches_files(command: &str) -> bool {
    const WATCHERS: [&str; 5] = ["--watch", "nodemon", "tsx watch", "node-dev", "ts-node-dev"];
    WATCHERS.iter().any(|watcher| command.contains(watcher))
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
