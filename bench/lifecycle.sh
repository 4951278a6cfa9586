#!/usr/bin/env bash
# Lifecycle benchmark: the provisioner's overhead per provision and per wake
# against the Fly emulator at zero latency, and one idle-reaper pass and one
# reconciler pass over 1,000 previews in SQLite (time and memory).
#
#   bench/lifecycle.sh            # optimised build (slower to compile, the figures to quote)
#   PROFILE=dev bench/lifecycle.sh
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PROFILE:-release}"
if [[ "$profile" == "release" ]]; then
  flags=(--release)
  target_dir="target/release"
else
  flags=()
  target_dir="target/debug"
fi

cargo build "${flags[@]}" -p provisioner --bin provisioner
cargo build "${flags[@]}" -p preview-tests --example lifecycle_bench
echo "profile: $profile; $(nproc) CPUs; $(uname -sr)"
PROVISIONER_BIN="$PWD/$target_dir/provisioner" RUST_LOG="${RUST_LOG:-warn}" \
  "$target_dir/examples/lifecycle_bench"
