#!/usr/bin/env bash
# Fuzzing (issue 12): runs each cargo fuzz target of fuzz/ for a fixed time
# and prints, per target, the executions, the corpus it grew and the crashes
# it found (their inputs stay in fuzz/artifacts/<target>/). Not in CI.
#
#   bench/fuzz.sh                 # every target, 60 s each
#   bench/fuzz.sh --seconds 300   # longer
#   bench/fuzz.sh --seconds 10 paths manifest   # some targets only
#
# Needs the nightly toolchain (libFuzzer's instrumentation) and cargo-fuzz;
# installs cargo-fuzz from crates.io when it is missing. Builds with debug
# assertions (overflow checks) and without a sanitizer: the workspace forbids
# `unsafe`, so what a fuzzer can find in it is a panic, which libFuzzer
# reports as a crash. FUZZ_SANITIZER=address turns AddressSanitizer on.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root/fuzz"

seconds=60
targets=()
while (($#)); do
    case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) targets+=("$1"); shift ;;
    esac
done

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "the nightly toolchain is missing: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(cargo fuzz list)
fi

sanitizer=${FUZZ_SANITIZER:-none}
echo "== build: cargo +nightly fuzz build --sanitizer $sanitizer --debug-assertions"
build_started=$SECONDS
cargo +nightly fuzz build --sanitizer "$sanitizer" --debug-assertions
echo "build: $((SECONDS - build_started)) s"

summary=()
failed=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    log=$(mktemp)
    echo "== $target: ${seconds} s"
    set +e
    cargo +nightly fuzz run --sanitizer "$sanitizer" --debug-assertions "$target" \
        -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    corpus=$(find "corpus/$target" -type f | wc -l)
    crashes=$(find "artifacts/$target" -type f | wc -l)
    if ((status != 0)); then
        failed=1
        grep -E "panicked|ERROR: libFuzzer|Test unit written" "$log" | head -5 || true
    fi
    summary+=("$(printf '%-12s %12s execs  %6s in corpus  %3s crash inputs  exit %s' \
        "$target" "${execs:-?}" "$corpus" "$crashes" "$status")")
    rm -f "$log"
done

echo
echo "== fuzzing, ${seconds} s per target, sanitizer: $sanitizer"
printf '%s\n' "${summary[@]}"
exit "$failed"
