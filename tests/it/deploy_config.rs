//! The deployment files agree with the code: `fly.toml` names only settings
//! the provisioner reads (its clap definition is the source of truth), the
//! values that must match do (ports, data dir, region), secrets stay out of
//! plain env, and both Dockerfiles build from files that exist and reach the
//! build context.
//!
//! No Docker engine runs here, so this is what can be checked without one;
//! `scripts/lint-images.sh` adds hadolint and shellcheck.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, Parser};
use provisioner::config::Cli;

/// Env names that fly.toml may set although the provisioner's flags do not
/// name them: read by its logging setup (`telemetry.rs`).
const LOGGING_ENV: &[&str] = &["LOG_FORMAT", "RUST_LOG"];

#[test]
fn fly_toml_env_names_are_the_provisioners_settings() {
    let fly = FlyToml::load();
    let settings = serve_settings();
    let env = fly.table("env");

    for name in env.keys() {
        assert!(
            settings.iter().any(|s| s.env == *name) || LOGGING_ENV.contains(&name.as_str()),
            "fly.toml [env] sets {name}, which `provisioner serve` does not read; \
             known names: {:?}",
            settings.iter().map(|s| &s.env).collect::<Vec<_>>()
        );
    }
    for required in [
        "PROVISIONER_LISTEN",
        "PROVISIONER_DATA_DIR",
        "PROVISIONER_PUBLIC_URL",
        "FLY_ORG_SLUG",
        "FLY_REGION",
        "PREVIEW_IMAGE",
        "PROVISIONER_DEPLOYMENT",
        "FLY_APP_PREFIX",
    ] {
        assert!(
            settings.iter().any(|s| s.env == required),
            "provisioner no longer reads {required}"
        );
        assert!(
            env.contains_key(required),
            "fly.toml [env] lacks {required}"
        );
    }
    // The Fly driver must be chosen even before the token secret is set, so a
    // missing secret fails loudly instead of running previews on the machine.
    assert_eq!(fly.env("PROVISIONER_DRIVER"), "fly");
}

#[test]
fn secrets_stay_out_of_fly_toml_and_are_documented_in_it() {
    let fly = FlyToml::load();
    let secrets: Vec<String> = serve_settings()
        .into_iter()
        .filter(|s| s.secret)
        .map(|s| s.env)
        .collect();
    for name in ["PROVISIONER_API_KEY", "FLY_API_TOKEN", "DATABASE_URL"] {
        assert!(
            secrets.iter().any(|s| s == name),
            "{name} is no longer a hidden (secret) setting"
        );
    }
    for name in &secrets {
        assert!(
            !fly.table("env").contains_key(name),
            "{name} is a secret: set it with `fly secrets set`, not in fly.toml [env]"
        );
        assert!(
            fly.text
                .lines()
                .any(|line| line.trim_start().starts_with('#') && line.contains(name)),
            "fly.toml's comments should tell how to set the secret {name}"
        );
    }
}

#[test]
fn fly_toml_values_agree_with_each_other_and_the_image() {
    let fly = FlyToml::load();
    let dockerfile = Dockerfile::load("provisioner/Dockerfile");

    let app = fly.str(&["app"]);
    assert!(!app.is_empty(), "fly.toml needs an app name");
    let region = fly.str(&["primary_region"]);
    assert_eq!(
        fly.env("FLY_REGION"),
        region,
        "previews should run beside the provisioner"
    );

    // The HTTP service reaches the port the provisioner listens on.
    let internal_port = fly.int(&["http_service", "internal_port"]);
    let listen = fly.env("PROVISIONER_LISTEN");
    let listen: std::net::SocketAddr = listen.parse().expect("PROVISIONER_LISTEN is ip:port");
    assert!(
        listen.ip().is_unspecified(),
        "bind all interfaces so Fly's proxy reaches it"
    );
    assert_eq!(i64::from(listen.port()), internal_port);
    assert_eq!(
        dockerfile.env("PROVISIONER_LISTEN").as_deref(),
        Some(listen.to_string().as_str())
    );
    assert!(
        dockerfile
            .args("EXPOSE")
            .iter()
            .any(|p| p == &internal_port.to_string())
    );

    // The store lives on the volume.
    let data_dir = fly.env("PROVISIONER_DATA_DIR");
    assert_eq!(fly.str(&["mounts", "destination"]), data_dir);
    assert!(!fly.str(&["mounts", "source"]).is_empty());
    assert_eq!(
        dockerfile.env("PROVISIONER_DATA_DIR").as_deref(),
        Some(data_dir.as_str())
    );

    // Daemons in the previews reach the provisioner at the app's own URL.
    assert_eq!(
        fly.env("PROVISIONER_PUBLIC_URL"),
        format!("https://{app}.fly.dev")
    );

    // The provisioner runs the idle reaper and reconciler: never auto-stopped.
    let auto_stop = fly.value(&["http_service", "auto_stop_machines"]);
    assert!(
        auto_stop.as_str() == Some("off") || auto_stop.as_bool() == Some(false),
        "auto_stop_machines must be off, found {auto_stop}"
    );
    assert_eq!(
        fly.value(&["http_service", "auto_start_machines"])
            .as_bool(),
        Some(true)
    );
    assert!(fly.int(&["http_service", "min_machines_running"]) >= 1);
    assert_eq!(
        fly.value(&["http_service", "force_https"]).as_bool(),
        Some(true)
    );
    let checks = fly
        .value(&["http_service", "checks"])
        .as_array()
        .expect("[[http_service.checks]]");
    assert!(
        checks
            .iter()
            .any(|c| c.get("path").and_then(|p| p.as_str()) == Some("/healthz")),
        "an http check on /healthz"
    );

    // Stop: the signal the provisioner handles, and time to drain.
    assert_eq!(fly.str(&["kill_signal"]), "SIGTERM");
    assert_eq!(dockerfile.args("STOPSIGNAL"), ["SIGTERM"]);
    let kill_timeout = match fly.value(&["kill_timeout"]) {
        toml::Value::Integer(seconds) => Duration::from_secs(u64::try_from(*seconds).unwrap_or(0)),
        toml::Value::String(text) => {
            sync_protocol::parse_duration(text).expect("kill_timeout like 30s")
        }
        other => panic!("kill_timeout should be seconds or a duration string, found {other}"),
    };
    assert!((Duration::from_secs(10)..=Duration::from_secs(300)).contains(&kill_timeout));

    // The build uses the provisioner's Dockerfile, relative to fly.toml.
    assert_eq!(fly.str(&["build", "dockerfile"]), "provisioner/Dockerfile");
}

#[test]
fn runtime_image_agrees_with_the_provisioner_and_its_entrypoint() {
    let dockerfile = Dockerfile::load("runtime-image/Dockerfile");
    let entrypoint = std::fs::read_to_string(root().join("runtime-image/entrypoint.sh")).unwrap();
    let settings = serve_settings();

    // The dev server listens where the provisioner routes previews to.
    let preview_port = settings
        .iter()
        .find(|s| s.env == "PREVIEW_PORT")
        .and_then(|s| s.default.clone())
        .expect("PREVIEW_PORT has a default");
    assert_eq!(dockerfile.env("PORT"), Some(preview_port.clone()));
    assert_eq!(dockerfile.args("EXPOSE"), [preview_port]);

    // Every SYNC_* the image sets is one the entrypoint documents and uses.
    for (name, _) in dockerfile.envs() {
        if name.starts_with("SYNC_") {
            assert!(
                entrypoint.contains(&format!("${{{name}")),
                "entrypoint ignores {name}"
            );
        }
    }
    for required in ["SYNC_SERVER_URL", "SYNC_APP_ID", "SYNC_TOKEN"] {
        assert!(
            entrypoint.contains(required),
            "entrypoint does not check {required}"
        );
        assert!(
            dockerfile.env(required).is_none(),
            "{required} comes from the provisioner"
        );
    }

    // The entrypoint becomes the daemon, which is what receives the stop signal.
    assert_eq!(dockerfile.args("STOPSIGNAL"), ["SIGTERM"]);
    assert!(
        entrypoint
            .lines()
            .any(|l| l.trim_start().starts_with("exec sync-daemon --exec"))
    );
    let entry = dockerfile.args("ENTRYPOINT").join(" ");
    let copied = dockerfile
        .instructions("COPY")
        .into_iter()
        .find(|args| args.iter().any(|a| a == "runtime-image/entrypoint.sh"))
        .expect("the image copies runtime-image/entrypoint.sh");
    assert!(
        entry.contains(copied.last().unwrap()),
        "ENTRYPOINT {entry} is not the copied script"
    );

    // The app's code runs as a non-root user apart from the daemon (which
    // keeps the token), with a health check and a Node LTS base.
    let run_as = dockerfile
        .env("SYNC_RUN_AS")
        .expect("the image sets SYNC_RUN_AS");
    assert!(
        !["", "root", "0"].contains(&run_as.as_str()),
        "SYNC_RUN_AS={run_as}"
    );
    let entrypoint = std::fs::read_to_string(root().join("runtime-image/entrypoint.sh")).unwrap();
    assert!(
        entrypoint.contains("export SYNC_RUN_AS"),
        "the daemon reads SYNC_RUN_AS"
    );
    assert!(!dockerfile.instructions("HEALTHCHECK").is_empty());
    let base = dockerfile.final_base();
    let major: u32 = base
        .strip_prefix("node:")
        .and_then(|tag| tag.split(['-', '.']).next())
        .and_then(|major| major.parse().ok())
        .unwrap_or_else(|| panic!("final stage should be a node:<major>-… image, is {base}"));
    assert!(
        major >= 20 && major.is_multiple_of(2),
        "node:{major} is not an LTS line"
    );
}

#[test]
fn runtime_image_reads_what_the_fly_driver_sets() {
    use provisioner::config::Command;
    use provisioner::fly::machine_config::{
        PreviewMachineSettings, SECRET_SERVER_URL, SECRET_SYNC_TOKEN, preview_machine_request,
    };

    // The machine the Fly driver creates with the provisioner's defaults.
    let cli = Cli::try_parse_from(["provisioner", "serve"]).unwrap();
    // Irrefutable while `serve` is the only subcommand; kept for when it is not.
    #[allow(irrefutable_let_patterns)]
    let Command::Serve(args) = cli.command else {
        panic!("`provisioner serve` parses as serve")
    };
    let app_id = sync_protocol::AppId::parse("demo").unwrap();
    let settings = PreviewMachineSettings::from_args(&args.fly);
    let identity = provisioner::fly::Identity::new("production", &args.fly.fly_app_prefix).unwrap();
    let request = preview_machine_request(&settings, &identity, &app_id, None);
    let request = serde_json::to_value(request).unwrap();
    let config = &request["config"];
    let machine_env = config["env"].as_object().expect("the machine has env");

    let dockerfile = Dockerfile::load("runtime-image/Dockerfile");
    let entrypoint = std::fs::read_to_string(root().join("runtime-image/entrypoint.sh")).unwrap();
    let daemon_env: Vec<String> = sync_daemon::Args::command()
        .get_arguments()
        .filter_map(|arg| Some(arg.get_env()?.to_str()?.to_owned()))
        .collect();

    // Every name the driver sets (env and app secrets) is one the entrypoint
    // and the daemon read, and together they cover what the entrypoint requires.
    let mut given: Vec<&str> = machine_env.keys().map(String::as_str).collect();
    given.extend([SECRET_SYNC_TOKEN, SECRET_SERVER_URL]);
    for name in &given {
        assert!(
            daemon_env.iter().any(|d| d == name),
            "the daemon does not read {name}"
        );
        assert!(
            entrypoint.contains(name),
            "the entrypoint does not mention {name}"
        );
    }
    for required in ["SYNC_SERVER_URL", "SYNC_APP_ID", "SYNC_TOKEN"] {
        assert!(
            given.contains(&required),
            "the Fly driver does not set {required}"
        );
    }
    // What the image sets for the daemon is what the daemon reads.
    for (name, _) in dockerfile.envs() {
        if name.starts_with("SYNC_") || name == "PORT" {
            assert!(
                daemon_env.contains(&name),
                "the image sets {name}, which the daemon ignores"
            );
        }
    }

    // Same synced dir and port on both sides, and the service reaches that port.
    for name in ["SYNC_DIR", "PORT"] {
        assert_eq!(
            machine_env.get(name).and_then(|v| v.as_str()),
            dockerfile.env(name).as_deref(),
            "{name} differs between the machine config and the image"
        );
    }
    let internal_port = config["services"][0]["internal_port"].to_string();
    assert_eq!(dockerfile.args("EXPOSE"), [internal_port]);

    // When the machine names a stop signal, it is the image's.
    if let Some(signal) = config
        .get("stop_config")
        .and_then(|stop| stop.get("signal"))
    {
        assert_eq!(
            signal.as_str(),
            Some(dockerfile.args("STOPSIGNAL")[0].as_str())
        );
    }
}

#[test]
fn images_build_from_files_that_reach_the_context() {
    let ignore = DockerIgnore::load();
    let members = workspace_members();
    assert!(members.len() >= 3, "{members:?}");
    for path in ["provisioner/Dockerfile", "runtime-image/Dockerfile"] {
        let dockerfile = Dockerfile::load(path);
        for source in dockerfile.copy_sources() {
            if source == "." {
                // The whole context: cargo needs every workspace member.
                for member in members.iter().chain([&"Cargo.toml".to_owned()]) {
                    assert!(
                        ignore.sends(member),
                        "{path}: .dockerignore leaves out {member}"
                    );
                }
                assert!(
                    ignore.sends("Cargo.lock"),
                    "--locked needs Cargo.lock in the context"
                );
                assert!(
                    !ignore.sends("target"),
                    "target/ should stay out of the context"
                );
            } else {
                assert!(
                    root().join(&source).exists(),
                    "{path} copies {source}, which is missing"
                );
                assert!(
                    ignore.sends(&source),
                    "{path} copies {source}, which .dockerignore drops"
                );
            }
        }
        let mut build = dockerfile.instructions("RUN").concat().join(" ");
        // A build script the image runs builds as that script says.
        for script in ["scripts/build-daemon.sh"] {
            if build.contains(script) {
                assert!(
                    ignore.sends(script),
                    "{path} runs {script}, which .dockerignore drops"
                );
                build.push(' ');
                build.push_str(&std::fs::read_to_string(root().join(script)).unwrap());
            }
        }
        if build.contains("cargo build") {
            assert!(build.contains("--locked"), "{path}: build with --locked");
            assert!(
                build.contains("--release") || builds_a_release_profile(&build),
                "{path}: build with --release or a profile that inherits it"
            );
        }
    }
    assert!(!ignore.sends("runtime-image/template/node_modules"));
    assert!(
        ignore.sends(".cargo/config.toml"),
        "the images build with cargo's settings (.cargo/config.toml)"
    );
    assert!(!ignore.sends("scripts/test.sh"));
}

/// One setting of `provisioner serve`, as clap defines it.
#[derive(Debug)]
struct Setting {
    env: String,
    secret: bool,
    default: Option<String>,
}

fn serve_settings() -> Vec<Setting> {
    let command = Cli::command();
    let serve = command
        .find_subcommand("serve")
        .expect("a serve subcommand");
    serve
        .get_arguments()
        .filter_map(|arg| {
            Some(Setting {
                env: arg.get_env()?.to_str()?.to_owned(),
                secret: arg.is_hide_env_values_set(),
                default: arg
                    .get_default_values()
                    .first()
                    .map(|v| v.to_string_lossy().into_owned()),
            })
        })
        .collect()
}

/// The repository root, which the deployment files are relative to.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Whether `build` names `--profile <name>` and the root Cargo.toml's
/// `[profile.<name>]` inherits `release` (the daemon's size-optimised build).
fn builds_a_release_profile(build: &str) -> bool {
    let Some(name) = build
        .split_whitespace()
        .skip_while(|word| *word != "--profile")
        .nth(1)
    else {
        return false;
    };
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest
        .get("profile")
        .and_then(|profiles| profiles.get(name))
        .and_then(|profile| profile.get("inherits"))
        .and_then(toml::Value::as_str)
        == Some("release")
}

fn workspace_members() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

pub(crate) struct FlyToml {
    text: String,
    table: toml::Table,
}

impl FlyToml {
    fn load() -> FlyToml {
        FlyToml::read(&root().join("fly.toml"))
    }

    pub(crate) fn read(path: &Path) -> FlyToml {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let table = text
            .parse()
            .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", path.display()));
        FlyToml { text, table }
    }

    fn value(&self, path: &[&str]) -> &toml::Value {
        let (first, rest) = path.split_first().unwrap();
        let mut value = self
            .table
            .get(*first)
            .unwrap_or_else(|| panic!("fly.toml lacks {}", path.join(".")));
        for key in rest {
            value = value
                .get(key)
                .unwrap_or_else(|| panic!("fly.toml lacks {}", path.join(".")));
        }
        value
    }

    fn table(&self, name: &str) -> &toml::Table {
        self.value(&[name])
            .as_table()
            .unwrap_or_else(|| panic!("fly.toml [{name}] is a table"))
    }

    pub(crate) fn str(&self, path: &[&str]) -> &str {
        self.value(path)
            .as_str()
            .unwrap_or_else(|| panic!("{} is a string", path.join(".")))
    }

    fn int(&self, path: &[&str]) -> i64 {
        self.value(path)
            .as_integer()
            .unwrap_or_else(|| panic!("{} is an integer", path.join(".")))
    }

    pub(crate) fn env(&self, name: &str) -> String {
        self.str(&["env", name]).to_owned()
    }
}

/// Just enough of a Dockerfile parser: instructions with their continuation
/// lines joined and comments dropped, split into words (JSON arrays too).
struct Dockerfile {
    instructions: Vec<(String, Vec<String>)>,
}

impl Dockerfile {
    fn load(path: &str) -> Dockerfile {
        let text =
            std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut instructions = Vec::new();
        let mut pending = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
                continue;
            }
            if let Some(head) = trimmed.strip_suffix('\\') {
                pending.push_str(head);
                pending.push(' ');
                continue;
            }
            pending.push_str(trimmed);
            let (keyword, rest) = pending.split_once(' ').unwrap_or((&pending, ""));
            instructions.push((keyword.to_ascii_uppercase(), words(rest.trim())));
            pending.clear();
        }
        Dockerfile { instructions }
    }

    fn instructions(&self, keyword: &str) -> Vec<Vec<String>> {
        self.instructions
            .iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// The arguments of the last such instruction (the one that takes effect).
    fn args(&self, keyword: &str) -> Vec<String> {
        self.instructions(keyword).pop().unwrap_or_default()
    }

    /// `ENV` pairs of the final stage.
    fn envs(&self) -> Vec<(String, String)> {
        let last_from = self
            .instructions
            .iter()
            .rposition(|(k, _)| k == "FROM")
            .unwrap_or(0);
        self.instructions[last_from..]
            .iter()
            .filter(|(k, _)| k == "ENV")
            .flat_map(|(_, args)| args.iter())
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect()
    }

    fn env(&self, name: &str) -> Option<String> {
        self.envs()
            .into_iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    fn final_base(&self) -> String {
        self.args("FROM").first().cloned().expect("a FROM")
    }

    /// Context paths the `COPY` instructions read (not those copied between stages).
    fn copy_sources(&self) -> Vec<String> {
        let mut sources = Vec::new();
        for args in self.instructions("COPY") {
            if args.iter().any(|a| a.starts_with("--from=")) {
                continue;
            }
            let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
            let (_destination, sources_here) = paths.split_last().expect("COPY has a destination");
            sources.extend(
                sources_here
                    .iter()
                    .map(|s| s.trim_end_matches('/').to_owned()),
            );
        }
        sources
    }
}

/// Splits an instruction's arguments: a JSON array as its strings, otherwise
/// on whitespace, keeping `"double quoted"` words (as `ENV A="b c"`) whole.
fn words(text: &str) -> Vec<String> {
    if text.starts_with('[')
        && let Ok(array) = serde_json::from_str::<Vec<String>>(text)
    {
        return array;
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The root `.dockerignore`, as Docker applies it: the last matching pattern
/// wins, `!` re-includes, and a path is dropped when it or a parent is.
struct DockerIgnore {
    patterns: Vec<(bool, String)>,
}

impl DockerIgnore {
    fn load() -> DockerIgnore {
        let text = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| match l.strip_prefix('!') {
                Some(p) => (false, p.trim_end_matches('/').to_owned()),
                None => (true, l.trim_end_matches('/').to_owned()),
            })
            .collect();
        DockerIgnore { patterns }
    }

    /// Whether `path` (relative to the root) is sent in the build context.
    fn sends(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        (1..=segments.len()).all(|depth| !self.drops(&segments[..depth].join("/")))
    }

    fn drops(&self, path: &str) -> bool {
        let mut dropped = false;
        for (exclude, pattern) in &self.patterns {
            if glob_matches(pattern, path) {
                dropped = *exclude;
            }
        }
        dropped
    }
}

/// Docker's patterns: `*` within one segment, `**` across any number.
fn glob_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    match_segments(&pattern, &path)
}

fn match_segments(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            match_segments(&pattern[1..], path)
                || (!path.is_empty() && match_segments(pattern, &path[1..]))
        }
        (Some(p), Some(s)) => match_one(p, s) && match_segments(&pattern[1..], &path[1..]),
        _ => false,
    }
}

fn match_one(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (head.len()..=text.len())
                    .any(|i| text.is_char_boundary(i) && match_one(tail, &text[i..]))
        }
    }
}

#[test]
fn dockerignore_matching_follows_docker() {
    let ignore = DockerIgnore {
        patterns: vec![
            (true, "*".into()),
            (false, "src".into()),
            (true, "**/target".into()),
            (true, "**/*.log".into()),
        ],
    };
    assert!(ignore.sends("src/main.rs"));
    assert!(!ignore.sends("README.md"));
    assert!(!ignore.sends("src/target/x"));
    assert!(!ignore.sends("src/a/b/debug.log"));
    assert!(ignore.sends("src/a/b/debug.txt"));
}
