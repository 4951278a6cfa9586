#!/usr/bin/env bash
# Schemathesis (from PyPI, pinned) in a venv of its own under target/, for
# tests/it/schemathesis.rs; prints the path of its `schemathesis` command.
# Installs once; later runs only check the pinned version is there.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
venv="${CARGO_TARGET_DIR:-target}/schemathesis-venv"
command="$venv/bin/schemathesis"
if ! "$command" --version 2>/dev/null | grep -qx "schemathesis, version $version"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >&2
fi
printf '%s\n' "$(cd "$(dirname "$command")" && pwd)/schemathesis"
