#!/usr/bin/env bash
# Runs every cargo-fuzz target of rewire for SECONDS each and prints a table
# of executions and crashes per target.
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# Environment:
#   JOBS=N            targets run N at a time (default 1)
#   FUZZ_OUT=DIR      scratch corpora, logs and crash artifacts (default /tmp/rewire-fuzz)
#   CARGO_TARGET_DIR  where cargo-fuzz builds (default fuzz/target)
#   NICE=N            run the fuzzers under `nice -n N` (default 0)
#
# The committed seeds in fuzz/corpus/<target>/ are read, never written: new
# inputs go to $FUZZ_OUT/corpus/<target>/. A crash leaves its input in
# $FUZZ_OUT/artifacts/<target>/; minimise it with `cargo +nightly fuzz tmin`,
# add it to fuzz/corpus/<target>/ and fix the bug (the stable replay in
# crates/conformance/tests/replay.rs then keeps it fixed).
#
# Exit status: 0 no crash, 1 a target crashed (or failed to run), 2 usage or
# missing toolchain.
set -euo pipefail

usage() {
    echo "usage: fuzz/run.sh SECONDS [TARGET...]" >&2
    exit 2
}

[[ $# -ge 1 && $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || usage
seconds=$1
shift

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: no nightly toolchain: libFuzzer needs one" >&2
    echo "  install it with: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz is not installed" >&2
    echo "  install it with: cargo install cargo-fuzz" >&2
    exit 2
fi

jobs=${JOBS:-1}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz/run.sh: JOBS must be a positive number" >&2; exit 2; }
out=${FUZZ_OUT:-/tmp/rewire-fuzz}
niceness=${NICE:-0}

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

mkdir -p "$out"
echo "building ${#targets[@]} targets..." >&2
for target in "${targets[@]}"; do
    if ! cargo +nightly fuzz build "$target" >>"$out/build.log" 2>&1; then
        echo "fuzz/run.sh: building $target failed, see $out/build.log" >&2
        exit 1
    fi
done

# Run copies of the binaries just built, so that a rebuild during the run
# (sources edited meanwhile) cannot change what the later targets test.
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
built="${CARGO_TARGET_DIR:-$here/target}/$triple/release"
mkdir -p "$out/logs" "$out/corpus" "$out/artifacts" "$out/bin"
for target in "${targets[@]}"; do
    cp "$built/$target" "$out/bin/$target"
done

run_one() {
    local target=$1
    local corpus="$out/corpus/$target" artifacts="$out/artifacts/$target/"
    # Keep the previous run's findings apart, so the table counts this run's.
    if [[ -d $artifacts ]] && [[ -n $(ls -A "$artifacts") ]]; then
        rm -rf "$out/artifacts/$target.previous"
        mv "$artifacts" "$out/artifacts/$target.previous"
    fi
    mkdir -p "$corpus" "$artifacts"
    local started=$SECONDS
    set +e
    nice -n "$niceness" "$out/bin/$target" "$corpus" "corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts" \
        >"$out/logs/$target.log" 2>&1
    local status=$?
    set -e
    echo "$status $((SECONDS - started))" >"$out/logs/$target.status"
}

running=0
for target in "${targets[@]}"; do
    echo "fuzzing $target for ${seconds}s..." >&2
    run_one "$target" &
    running=$((running + 1))
    if [[ $running -ge $jobs ]]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

crashed=0
printf '%-18s %8s %12s %9s %8s %6s %8s  %s\n' \
    target seconds execs execs/s corpus cov rss_mb crashes
for target in "${targets[@]}"; do
    log="$out/logs/$target.log"
    read -r status took <"$out/logs/$target.status"
    # A target that crashed at once prints no statistics: default them.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1 || true)
    cov=$( (grep -oE 'cov: [0-9]+' "$log" || true) | tail -1 | cut -d' ' -f2)
    corp=$(find "$out/corpus/$target" "corpus/$target" -type f | wc -l)
    found=$(find "$out/artifacts/$target" -type f | wc -l)
    execs=${execs:-0}
    rate=$((took > 0 ? execs / took : execs))
    note=$found
    if [[ $status -ne 0 && $found -eq 0 ]]; then
        note="exit $status (see $log)"
    fi
    if [[ $status -ne 0 || $found -ne 0 ]]; then
        crashed=1
    fi
    printf '%-18s %8s %12s %9s %8s %6s %8s  %s\n' \
        "$target" "$took" "$execs" "$rate" "$corp" "${cov:--}" "${rss:--}" "$note"
done

if [[ $crashed -ne 0 ]]; then
    echo "fuzz/run.sh: crashes found; inputs are in $out/artifacts/<target>/" >&2
    exit 1
fi
