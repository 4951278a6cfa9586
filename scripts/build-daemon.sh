#!/usr/bin/env bash
# Builds the sync-daemon as it ships (runtime-image/Dockerfile) and as
# bench/sync.sh measures it; prints the binary's path (cargo's own output
# goes to stderr).
#
#   scripts/build-daemon.sh [cargo flags, e.g. --locked]
#
# The `daemon` profile (the root Cargo.toml: size-optimised, LTO) linked
# statically, glibc included. The daemon idles in every preview, and most of
# what it keeps resident is mapped code: linked dynamically, each process
# maps whole pages of libc, libm, libgcc_s and ld.so around the few
# functions it calls (fault-around reads 64 KiB at a time); linked
# statically, only the functions it uses are in its image. Measured on the
# 10,000-file tree: idle RSS 11.0 -> 9.2 MiB for the 3 s poll daemon
# (bench/README.md). glibc 2.34 and later resolve names from /etc/hosts and
# DNS without loading NSS modules, so a static daemon resolves the
# provisioner's host as the dynamic one does; users (--run-as) are read
# from /etc/passwd by the daemon itself.
#
# `--target` is named so the flag reaches the daemon only, not the build
# scripts and proc-macros, which cannot be static; the binary lands in
# target/<host triple>/daemon/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --profile daemon -p sync-daemon --target "$host" "$@" >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$host/daemon/sync-daemon"
