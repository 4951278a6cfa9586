#!/usr/bin/env bash
# The whole test suite, as README's second command and CI run it. Installs what
# it needs itself, so it passes on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain checks"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
bash scripts/lint-images.sh --no-test # hadolint + shellcheck; fly.toml is checked by the deploy_config tests

step "build binaries the end-to-end tests spawn"
cargo build --workspace --bins --locked

step "test prerequisites: Debian's chromium (browser tests), bubblewrap (the local previews' sandbox) and python3-venv, schemathesis, playwright-core, chokidar, the TypeScript client's devDependencies, the playground's build tools"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv) # schemathesis's venv (tests/it/schemathesis.rs)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  sudo_if_needed apt-get install -y -qq "${missing[@]}"
fi
(cd tests/browser && npm ci --no-audit --no-fund)
(cd tests/watchers && npm ci --no-audit --no-fund) # chokidar, the watcher of the daemon's kill-mid-sync test (tests/it/daemon_watcher.rs)
(cd clients/typescript && npm ci --no-audit --no-fund) # the TypeScript client's tests (tests/it/typescript_client.rs)
(cd provisioner/playground && npm ci --no-audit --no-fund) # esbuild and CodeMirror, for the check that dist/ is what its sources build to
bash scripts/schemathesis.sh >/dev/null # schemathesis from PyPI, pinned, in target/schemathesis-venv

step "tests"
export PREVIEW_POSTGRES_DIR TEST_DATABASE_URL; PREVIEW_POSTGRES_DIR="$(mktemp -d)" # a throwaway PostgreSQL of this run's own for the shared-database tests
TEST_DATABASE_URL="$(bash scripts/postgres.sh start)"; trap 'bash scripts/postgres.sh stop' EXIT
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --profile ci
else
  cargo test --workspace --locked
fi
