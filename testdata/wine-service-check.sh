#!/bin/sh
# The Windows service of `upsilon monitor`, run by wine's service control
# manager: install it, start it with `sc start`, read its NUT port with the
# Linux `upsc` (the RupsMon simulator runs natively), stop it with
# `sc stop`, check the port closed and the log file, uninstall it.
#
# Usage: testdata/wine-service-check.sh UPSILON_EXE UPSILON_LINUX
#   UPSILON_EXE    upsilon.exe built for x86_64-win7-windows-gnu (nightly,
#                  -Zbuild-std); Debian's wine 8.0 cannot start binaries of
#                  the plain x86_64-pc-windows-gnu target
#   UPSILON_LINUX  the native upsilon binary, for `simulate rupsmon`
# Needs /usr/lib/wine/wine64 and upsc (nut-client). Exit 0 when every step
# passed; otherwise the failing step and the service's log. Everything
# binds 127.0.0.1 only; the wine prefix is a temporary directory.
set -eu

EXE=$(realpath "$1")
NATIVE=$(realpath "$2")
WINE=${WINE:-/usr/lib/wine/wine64}
NAME=rewire-upsilon-check

WINEPREFIX=$(mktemp -d "${TMPDIR:-/tmp}/rewire-wine-svc.XXXXXX")
WINEDEBUG=-all
# No Mono or Gecko download prompt on a fresh prefix.
WINEDLLOVERRIDES='mscoree,mshtml='
export WINEPREFIX WINEDEBUG WINEDLLOVERRIDES
SIM_PID=
KEEPER_PID=
cleanup() {
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
    [ -n "$KEEPER_PID" ] && kill "$KEEPER_PID" 2>/dev/null || true
    wineserver -k 2>/dev/null || true
    rm -rf "$WINEPREFIX"
}
trap cleanup EXIT INT TERM

say() { echo "wine-service-check: $*"; }
fail() {
    say "FAILED: $*"
    [ -f "$WINEPREFIX/drive_c/rewire/service.log" ] && sed 's/^/  log: /' "$WINEPREFIX/drive_c/rewire/service.log"
    exit 1
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Runs wine with a time limit; wine's own chatter stays out of the output.
w() { timeout 60 "$WINE" "$@" 2>/dev/null; }
# Waits up to $1 seconds for the command after it to succeed.
until_ok() {
    n=$(( $1 * 5 )); shift
    while [ "$n" -gt 0 ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2; n=$(( n - 1 ))
    done
    return 1
}
state() { w sc query "$NAME" | tr -d '\r' | awk '/STATE/ { print $4 }'; }
is_state() { [ "$(state)" = "$1" ]; }

say "prefix $WINEPREFIX"
timeout 120 "$WINE" wineboot -i >/dev/null 2>&1 || fail "wineboot"
mkdir -p "$WINEPREFIX/drive_c/rewire"
cp "$EXE" "$WINEPREFIX/drive_c/rewire/upsilon.exe"

RUPSMON=$(free_port)
NUT=$(free_port)
"$NATIVE" simulate rupsmon --listen "127.0.0.1:$RUPSMON" --interval 200ms --script outage 2>/dev/null &
SIM_PID=$!

t0=$(date +%s)
w 'C:\rewire\upsilon.exe' service install --name "$NAME" --log-file 'C:\rewire\service.log' \
    -- monitor --rupsmon "127.0.0.1:$RUPSMON" --nut "127.0.0.1:$NUT" --nut-name ups \
    || fail "service install"
say "installed $NAME"
w 'C:\rewire\upsilon.exe' service install --name "$NAME-bad" -- decode x.pcap \
    && fail "install of a mode other than monitor was accepted"
wineserver -w

# Wine ends a session, services included, when its last ordinary process
# exits, and starts the automatic services when a session begins (as
# Windows does at boot). A keeper process (the Windows build playing
# RupsMon on a spare port) holds one session for the rest of the check.
# (Wine 8.0's service manager was unreliable for a service created inside
# a running session: `sc start` then failed with 1053 and 1060.)
KEEP=$(free_port)
"$WINE" 'C:\rewire\upsilon.exe' simulate rupsmon --listen "127.0.0.1:$KEEP" >/dev/null 2>&1 &
KEEPER_PID=$!
until_ok 60 python3 -c "import socket; socket.create_connection(('127.0.0.1', $KEEP), 1)" \
    || fail "the keeper process did not start"
until_ok 30 is_state RUNNING || fail "the automatic service is not RUNNING (state: $(state))"
say "sc query: RUNNING (automatic start)"
until_ok 30 upsc "ups@127.0.0.1:$NUT" ups.status || fail "upsc ups@127.0.0.1:$NUT answers nothing"
say "upsc ups@127.0.0.1:$NUT ups.status: $(upsc "ups@127.0.0.1:$NUT" ups.status 2>/dev/null)"
upsc "ups@127.0.0.1:$NUT" input.voltage >/dev/null 2>&1 || fail "no input.voltage"

stop0=$(date +%s)
w sc stop "$NAME" >/dev/null || fail "sc stop"
until_ok 10 is_state STOPPED || fail "not STOPPED within 10 s of sc stop (state: $(state))"
say "sc stop: STOPPED after $(( $(date +%s) - stop0 )) s"
until_ok 5 sh -c "! upsc ups@127.0.0.1:$NUT ups.status" || fail "the NUT port still answers after the stop"
say "NUT port closed"
grep -q "service $NAME running" "$WINEPREFIX/drive_c/rewire/service.log" || fail "no start line in the log"
grep -q "service $NAME stopped" "$WINEPREFIX/drive_c/rewire/service.log" || fail "no stop line in the log"
WINEDEBUG=err+sc timeout 60 "$WINE" sc start "$NAME" >/dev/null 2>"$WINEPREFIX/sc.err" \
    || fail "sc start: $(grep -a 'err:sc' "$WINEPREFIX/sc.err")"
until_ok 30 is_state RUNNING || fail "not RUNNING after sc start (state: $(state))"
until_ok 30 upsc "ups@127.0.0.1:$NUT" ups.status || fail "upsc answers nothing after sc start"
say "sc start: RUNNING, upsc answers"
w sc stop "$NAME" >/dev/null || fail "second sc stop"
until_ok 10 is_state STOPPED || fail "not STOPPED after the second sc stop"
say "log: $(wc -l < "$WINEPREFIX/drive_c/rewire/service.log") line(s)"

w 'C:\rewire\upsilon.exe' service uninstall --name "$NAME" || fail "service uninstall"
w sc query "$NAME" >/dev/null && fail "the service is still there after uninstall"
say "uninstalled; passed in $(( $(date +%s) - t0 )) s"
