//! Tables: an app's files in, the framework, package manager and commands out.

use super::*;

fn package(json: &str) -> PackageJson {
    serde_json::from_str(json).unwrap()
}

fn files(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// (package.json, files, framework, package manager, dev command on port 4000)
const APPS: &[(&str, &[&str], &str, &str, &str)] = &[
    // npm create vite, react template
    (
        r#"{"scripts":{"dev":"vite","build":"vite build"},"dependencies":{"react":"^19"},"devDependencies":{"vite":"^7","@vitejs/plugin-react":"^5"}}"#,
        &["package.json", "vite.config.js", "index.html"],
        "vite-react",
        "npm",
        "npm run dev -- --port 4000 --host 127.0.0.1 --strictPort",
    ),
    (
        r#"{"scripts":{"dev":"vite"},"dependencies":{"vue":"^3"},"devDependencies":{"vite":"^7"}}"#,
        &["package.json", "pnpm-lock.yaml"],
        "vite-vue",
        "pnpm",
        "pnpm run dev --port 4000 --host 127.0.0.1 --strictPort",
    ),
    (
        r#"{"scripts":{"dev":"vite"},"devDependencies":{"svelte":"^5","vite":"^7"}}"#,
        &["package.json", "yarn.lock"],
        "vite-svelte",
        "yarn",
        "yarn run dev --port 4000 --host 127.0.0.1 --strictPort",
    ),
    (
        r#"{"scripts":{"dev":"vite"},"dependencies":{"solid-js":"^1"},"devDependencies":{"vite":"^7"}}"#,
        &["package.json", "bun.lock"],
        "vite-solid",
        "bun",
        "bun run dev --port 4000 --host 127.0.0.1 --strictPort",
    ),
    (
        r#"{"scripts":{"dev":"vite dev"},"devDependencies":{"@sveltejs/kit":"^2","vite":"^7"}}"#,
        &["package.json"],
        "sveltekit",
        "npm",
        "npm run dev -- --port 4000 --host 127.0.0.1 --strictPort",
    ),
    (
        r#"{"scripts":{"dev":"astro dev"},"dependencies":{"astro":"^5"}}"#,
        &["package.json"],
        "astro",
        "npm",
        "npm run dev -- --port 4000 --host 127.0.0.1",
    ),
    // create-next-app
    (
        r#"{"scripts":{"dev":"next dev --turbopack","start":"next start"},"dependencies":{"next":"16","react":"19"}}"#,
        &["package.json", "package-lock.json"],
        "next",
        "npm",
        "npm run dev -- -p 4000 -H 127.0.0.1",
    ),
    // Only `next start` (needs a build): the framework's dev command instead.
    (
        r#"{"scripts":{"start":"next start"},"dependencies":{"next":"16"}}"#,
        &["package.json"],
        "next",
        "npm",
        "node_modules/.bin/next dev -p 4000 -H 127.0.0.1",
    ),
    (
        r#"{"scripts":{"dev":"nuxt dev"},"dependencies":{"nuxt":"^4"},"packageManager":"pnpm@10.0.0"}"#,
        &["package.json", "package-lock.json"],
        "nuxt",
        "pnpm",
        "pnpm run dev --port 4000 --host 127.0.0.1",
    ),
    (
        r#"{"scripts":{"dev":"react-router dev"},"devDependencies":{"@react-router/dev":"^7","vite":"^7"}}"#,
        &["package.json"],
        "react-router",
        "npm",
        "npm run dev -- --port 4000 --host 127.0.0.1 --strictPort",
    ),
    (
        r#"{"scripts":{"dev":"remix vite:dev"},"devDependencies":{"@remix-run/dev":"^2","vite":"^5"}}"#,
        &["package.json"],
        "remix",
        "npm",
        "npm run dev -- --port 4000 --host 127.0.0.1 --strictPort",
    ),
    // Create React App reads PORT and HOST.
    (
        r#"{"scripts":{"start":"react-scripts start"},"dependencies":{"react-scripts":"5"}}"#,
        &["package.json"],
        "create-react-app",
        "npm",
        "npm run start",
    ),
    // A dev script that is not the framework's CLI gets the environment only.
    (
        r#"{"scripts":{"dev":"node scripts/dev.js"},"devDependencies":{"vite":"^7"}}"#,
        &["package.json"],
        "vite",
        "npm",
        "npm run dev",
    ),
    (
        r#"{"scripts":{"start":"node server.js"}}"#,
        &["package.json", "server.js"],
        "node",
        "npm",
        "npm run start",
    ),
    (
        r#"{}"#,
        &["package.json", "index.js"],
        "node",
        "npm",
        "node index.js",
    ),
    (
        r#"{"devDependencies":{"vite":"^7"}}"#,
        &["package.json"],
        "vite",
        "npm",
        "node_modules/.bin/vite --port 4000 --host 127.0.0.1 --strictPort",
    ),
];

#[test]
fn apps_are_recognised_and_started_on_the_given_port() {
    for (json, names, expected_framework, expected_manager, expected_dev) in APPS {
        let package = package(json);
        let files = files(names);
        let found = framework(&package, &files).unwrap_or_else(|| panic!("{json}"));
        assert_eq!(found.name(), *expected_framework, "{json}");
        let manager = package_manager(&package, &files);
        assert_eq!(manager, *expected_manager, "{json} {names:?}");
        assert_eq!(
            dev_command(found, &package, &files, manager, 4000),
            *expected_dev,
            "{json}"
        );
    }
}

#[test]
fn a_directory_without_a_node_app_has_no_framework() {
    assert_eq!(framework(&package("{}"), &files(&["package.json"])), None);
    assert_eq!(
        framework(&package("{}"), &files(&["vite.config.ts"])),
        Some(Framework::Vite(""))
    );
}

#[test]
fn a_command_runs_a_cli_only_when_flags_follow_it() {
    let cases = [
        ("vite", "vite", true),
        ("vite --open", "vite", true),
        ("vite build", "vite", false),
        ("NODE_ENV=development vite", "vite", true),
        ("cross-env PORT=1 next dev", "next dev", true),
        ("next dev --turbopack", "next", false),
        ("next", "next", true),
        ("npm run build && vite", "vite", true),
        ("vite && echo done", "vite", false),
        ("./node_modules/.bin/vite", "vite", true),
        ("npx vite", "vite", true),
    ];
    for (script, cli, expected) in cases {
        assert_eq!(runs(script, cli), expected, "{script} runs {cli}");
    }
}

#[test]
fn installs_are_non_interactive_and_fall_back_to_npx() {
    assert_eq!(
        install_command("npm"),
        "npm install --no-audit --no-fund --prefer-offline"
    );
    let pnpm = install_command("pnpm");
    assert!(pnpm.contains("command -v pnpm") && pnpm.contains("npx --yes pnpm install"));
}

#[test]
fn only_commands_that_watch_their_files_restart_themselves() {
    let cases = [
        ("node server.js", false),
        ("node --watch server.js", true),
        ("nodemon index.js", true),
        ("tsx watch src/index.ts", true),
        ("npm run dev", false),
    ];
    for (command, expected) in cases {
        assert_eq!(watches_files(command), expected, "{command}");
    }
}
