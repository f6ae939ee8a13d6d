#!/usr/bin/env bash
# The Windows build, executed: builds upsilon, websentry and powerone for
# x86_64-win7-windows-gnu and runs them under wine.
#
#  1. every decode golden case of the three tools: `TOOL.exe decode --json
#     testdata\TOOL\INPUT` under wine, stdout compared byte for byte with
#     testdata/TOOL/expected/INPUT.ndjson. The cases are the golden files
#     themselves (each expected/*.ndjson names its input, as in
#     crates/*-cli/tests/decode.rs), so a new golden file cannot be skipped;
#  2. `upsilon.exe monitor` under wine on loopback, fed by the Linux RupsMon,
#     heartbeat and SMS simulators, read through its NUT port with the Linux
#     `upsc`: the values are the simulator's steady script
#     (`scripted_status` in crates/upsilon-host/src/sim.rs).
#
# Why win7: Debian's wine 8.0 cannot start binaries of the plain
# x86_64-pc-windows-gnu target (Rust >= 1.78's std imports
# bcryptprimitives.dll); the tier-3 win7 target uses older APIs, and needs
# the nightly toolchain with `-Zbuild-std` (rustup component rust-src).
# MQTT there has no TLS (ring does not build for it; see docs/mqtt.md).
#
# Usage: testdata/wine-check.sh
# Environment: WIN7_TARGET_DIR (cargo target dir of the win7 build; default
# $CARGO_TARGET_DIR, else target), CARGO_TARGET_DIR (the native build),
# WINE (default /usr/lib/wine/wine64), WINE_CHECK_PROFILE (debug|release,
# default debug: the faster end to end).
# Exit: 0 passed, 1 failed, 77 skipped (a tool missing; the reason is said).
# Everything binds 127.0.0.1; the wine prefix is a temporary directory,
# its wineserver is killed and the directory removed on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET=x86_64-win7-windows-gnu
WINE=${WINE:-/usr/lib/wine/wine64}
WINESERVER=${WINESERVER:-$(dirname "$WINE")/wineserver}
PROFILE=${WINE_CHECK_PROFILE:-debug}
NATIVE_DIR=${CARGO_TARGET_DIR:-target}
WIN7_DIR=${WIN7_TARGET_DIR:-$NATIVE_DIR}
TOOLS=(upsilon websentry powerone)

say() { echo "wine-check: $*"; }
skip() {
    say "SKIPPED: $*"
    exit 77
}

# What the check needs; each missing piece is named with how to get it.
command -v rustup >/dev/null 2>&1 || skip "no rustup"
rustup run nightly rustc --version >/dev/null 2>&1 \
    || skip "no nightly toolchain (rustup toolchain install nightly --profile minimal --component rust-src)"
components=$(rustup component list --toolchain nightly --installed 2>/dev/null || true)
grep -q '^rust-src' <<<"$components" \
    || skip "nightly has no rust-src (rustup component add rust-src --toolchain nightly)"
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 \
    || skip "no MinGW linker (apt-get install gcc-mingw-w64-x86-64)"
[ -x "$WINE" ] || skip "no $WINE (apt-get install wine64)"
[ -x "$WINESERVER" ] || skip "no $WINESERVER (apt-get install wine64)"
command -v upsc >/dev/null 2>&1 || skip "no upsc (apt-get install nut-client)"
command -v python3 >/dev/null 2>&1 || skip "no python3 (for free loopback ports)"

profile_flag=()
[ "$PROFILE" = release ] && profile_flag=(--release)
t0=$(date +%s)
CARGO_TARGET_DIR=$WIN7_DIR timeout 3600 cargo +nightly build --locked -Zbuild-std \
    --target "$TARGET" "${profile_flag[@]}" --bins \
    -p rewire-upsilon-cli -p rewire-websentry-cli -p rewire-powerone-cli
say "win7 build ($PROFILE): $(($(date +%s) - t0)) s"
# The simulators run natively.
timeout 1800 cargo build --locked --quiet -p rewire-upsilon-cli --bin upsilon
EXE=$WIN7_DIR/$TARGET/$PROFILE
NATIVE=$NATIVE_DIR/debug/upsilon
for t in "${TOOLS[@]}"; do
    [ -f "$EXE/$t.exe" ] || { say "FAILED: no $EXE/$t.exe after the build"; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rewire-wine-check.XXXXXX")
# No Mono or Gecko download prompt on a fresh prefix (nothing here needs them).
export WINEPREFIX=$WORK/prefix WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    timeout 20 "$WINESERVER" -k 2>/dev/null || true
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A wine run with a time limit; stdin closed.
w() { timeout "$1" "$WINE" "${@:2}" </dev/null; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Waits up to $1 seconds for the command after it to succeed.
until_ok() {
    local n=$(($1 * 5))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
        n=$((n - 1))
    done
    return 1
}

t1=$(date +%s)
mkdir -p "$WINEPREFIX"
# One wineserver for the whole check (not one per run), killed on exit.
"$WINESERVER" -p
timeout 180 "$WINE" wineboot -i >/dev/null 2>&1 || { say "FAILED: wineboot"; exit 1; }
say "wine prefix ready: $(($(date +%s) - t1)) s"

# 1. The decode golden cases.
failed=0
ran=0
for t in "${TOOLS[@]}"; do
    for golden in testdata/"$t"/expected/*.ndjson; do
        name=$(basename "$golden" .ndjson)
        if [ ! -f "testdata/$t/$name" ]; then
            say "FAILED: $golden names no input testdata/$t/$name"
            failed=$((failed + 1))
            continue
        fi
        # A Windows user's path: relative, with backslashes.
        if ! w 60 "$EXE/$t.exe" decode --json "testdata\\$t\\$name" >"$WORK/out" 2>"$WORK/err"; then
            say "FAILED: $t decode --json testdata\\$t\\$name: $(head -c 500 "$WORK/err")"
            failed=$((failed + 1))
        elif ! cmp -s "$WORK/out" "$golden"; then
            say "FAILED: $t decode --json $name differs from $golden:"
            diff "$golden" "$WORK/out" | head -6 | cut -c1-300 || true
            failed=$((failed + 1))
        else
            say "ok   $t decode --json testdata\\$t\\$name"
        fi
        ran=$((ran + 1))
    done
done
say "decode: $ran golden case(s) under wine, $failed failed"
[ "$ran" -ge 20 ] || { say "FAILED: only $ran golden cases found"; failed=$((failed + 1)); }

# 2. upsilon.exe monitor, fed by the native simulators, read with upsc.
fail_monitor() {
    say "FAILED: monitor: $*"
    sed 's/^/  monitor stderr: /' "$WORK/monitor.err" | head -20
    failed=$((failed + 1))
}
monitor_check() {
    local r h s n
    r=$(free_port)
    h=$(free_port)
    s=$(free_port)
    n=$(free_port)
    timeout 300 "$NATIVE" simulate rupsmon --listen "127.0.0.1:$r" --interval 200ms \
        --script steady 2>"$WORK/sim.err" &
    PIDS+=($!)
    timeout 300 "$WINE" "$EXE/upsilon.exe" monitor --rupsmon "127.0.0.1:$r" \
        --heartbeat "127.0.0.1:$h" --sms-listen "127.0.0.1:$s" --nut "127.0.0.1:$n" \
        --json </dev/null >"$WORK/monitor.ndjson" 2>"$WORK/monitor.err" &
    PIDS+=($!)
    local ups=ups@127.0.0.1:$n
    until_ok 60 upsc "$ups" ups.status || { fail_monitor "upsc $ups answers nothing"; return; }
    # Steady: on line, 238.0-238.2 V in (a 0.1 V wobble), 238.7 V out,
    # 7 % load, 50.1 Hz, 27.40 V battery.
    local var want got
    for var in output.voltage=238.7 ups.load=7 input.frequency=50.1 battery.voltage=27.40; do
        want=${var#*=}
        got=$(upsc "$ups" "${var%%=*}" 2>/dev/null || true)
        [ "$got" = "$want" ] || fail_monitor "upsc ${var%%=*}: got '$got', the simulator plays '$want'"
    done
    got=$(upsc "$ups" input.voltage 2>/dev/null || true)
    case $got in 238.0 | 238 | 238.1 | 238.2) ;; *) fail_monitor "upsc input.voltage: got '$got', want 238.0-238.2" ;; esac
    got=$(upsc "$ups" ups.status 2>/dev/null || true)
    [ "$got" = OL ] || fail_monitor "upsc ups.status: got '$got', want OL"
    say "ok   upsc $ups: ups.status $got, input.voltage $(upsc "$ups" input.voltage 2>/dev/null)," \
        "battery.voltage $(upsc "$ups" battery.voltage 2>/dev/null)"

    timeout 30 "$NATIVE" simulate heartbeat --to "127.0.0.1:$h" --ups 1 --interval 100ms \
        --count 3 >/dev/null 2>&1 || fail_monitor "simulate heartbeat failed"
    local line
    line=$(timeout 30 "$NATIVE" simulate sms --to "127.0.0.1:$s" --message "wine check" 2>&1) \
        || fail_monitor "simulate sms: $line"
    case $line in *" 200"*) say "ok   sms gateway answered: $line" ;; *) fail_monitor "sms answer: $line" ;; esac
    until_ok 10 grep -q '"kind":"heartbeat","connected":true,"ups":1' "$WORK/monitor.ndjson" \
        || fail_monitor "no heartbeat record on stdout"
    until_ok 10 grep -q '"kind":"sms_alert".*wine check' "$WORK/monitor.ndjson" \
        || fail_monitor "no sms_alert record with the message on stdout"
    grep -q $'\r' "$WORK/monitor.ndjson" && fail_monitor "CR in the NDJSON on stdout"
    say "ok   monitor NDJSON: $(grep -c '"kind":"status"' "$WORK/monitor.ndjson") status," \
        "$(grep -c '"kind":"heartbeat"' "$WORK/monitor.ndjson") heartbeat," \
        "$(grep -c '"kind":"sms_alert"' "$WORK/monitor.ndjson") sms_alert record(s)"
}
t2=$(date +%s)
monitor_check
say "monitor scenario: $(($(date +%s) - t2)) s"

if [ "$failed" -gt 0 ]; then
    say "FAILED: $failed check(s)"
    exit 1
fi
say "passed: $ran decode golden cases and the monitor scenario under wine ($(($(date +%s) - t0)) s with the build)"
