#!/usr/bin/env bash
# Sets up the machine and runs Rounds: the district server on its embedded SQLite store with the
# demo district, and the field app (the Tauri window) on a phone's data folder. Closing the
# app's window (or Ctrl-C) stops what this run started.
#
#   ROUNDS_PORT      server port (default 8080)
#   ROUNDS_DATA      server data folder (default ./rounds-data)
#   ROUNDS_PHONE     the phone's data folder (default ./rounds-phone)
#   ROUNDS_APP_PORT  port of the browser bridge when there is no display (default: the first
#                    free port from ROUNDS_PORT + 1)
#
# - The server: if a Rounds server already answers on the port (an earlier run still going),
#   it is reused as it is; otherwise one is started. The demo district is written only into a
#   data folder that has no database yet: a database with data is never re-seeded, and the
#   server's log is appended to, never truncated.
# - The phone: a new folder named rounds-phone (the default) is enrolled as Gia Guard's post
#   phone. Any other new folder (ROUNDS_PHONE=other-phone) opens on the set-up screen, and a
#   fresh one-time enrollment code is printed for it.
# - With no display (DISPLAY/WAYLAND_DISPLAY unset) it says how to run under Xvfb, and serves
#   the same app to a browser on loopback instead.
#
# Every failure ends with a message saying what went wrong and a non-zero exit status.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "run.sh: $*" >&2
    exit 1
}

bash scripts/setup.sh || fail "installing what Rounds needs failed (see above)."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rounds-target}"
port="${ROUNDS_PORT:-8080}"
data="${ROUNDS_DATA:-rounds-data}"
phone="${ROUNDS_PHONE:-rounds-phone}"
pin=2468013579
server_url="http://127.0.0.1:$port"

# Something accepts connections on this loopback port.
listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A Rounds server answers on this port (its /health says so).
rounds_server_on() {
    curl -fs --max-time 5 "http://127.0.0.1:$1/health" 2>/dev/null | grep -q '"status":"ok"'
}

# Debug builds share the target folder with scripts/test.sh (dependencies are optimised).
# ROUNDS_BUILD_ARGS replaces what is built: scripts/test.sh passes its own one build's
# arguments, so running this script there rebuilds nothing. Both land in $CARGO_TARGET_DIR/debug.
echo "Building (the first build takes several minutes)..."
read -ra build_args <<<"${ROUNDS_BUILD_ARGS:--p rounds-server -p rounds-bridge -p rounds-field}"
if ! cargo build -q "${build_args[@]}"; then
    fail "the build failed (the compiler's errors are above); nothing was started."
fi
bin="$CARGO_TARGET_DIR/debug"
server="$bin/rounds-server"

pids=()
cleanup() {
    ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if rounds_server_on "$port"; then
    [[ -f "$data/rounds.db" ]] ||
        fail "a Rounds server already answers on port $port, but $data holds no database: it runs on another data folder. Set ROUNDS_DATA to that folder, or ROUNDS_PORT to another port."
    echo "District server: already running on $server_url; reusing it (data in $data)."
elif listening "$port"; then
    fail "port $port is taken by a program that is not a Rounds server. Stop it (see: ss -ltnp 'sport = :$port'), or choose another port with ROUNDS_PORT=..."
else
    mkdir -p "$data"
    if [[ -f "$data/rounds.db" ]]; then
        echo "District server: starting on the existing data in $data (not re-seeded)."
    else
        "$server" --data "$data" admin seed-demo >/dev/null || fail "writing the demo district into $data failed (see above)."
        echo "District server: a new demo district in $data."
    fi
    # The console's signing key, beside the data folder rather than in it (docs/signing.md).
    console_key="$data.console.key"
    if [[ ! -f "$console_key" ]]; then
        "$server" console-key new "$console_key" >/dev/null || fail "writing the console key $console_key failed (see above)."
    fi
    echo "--- $(date -u +%FT%TZ) run.sh starts the server on $server_url" >>"$data/server.log"
    "$server" --data "$data" serve --listen "127.0.0.1:$port" --console-key-file "$console_key" >>"$data/server.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        rounds_server_on "$port" && break
        if ! kill -0 "${pids[0]}" 2>/dev/null; then
            tail -n 20 "$data/server.log" >&2
            fail "the district server stopped at start (the end of $data/server.log is above)."
        fi
        sleep 0.1
    done
    rounds_server_on "$port" || fail "the district server did not answer on $server_url within 10 s (log: $data/server.log)."
    echo "District server: $server_url (data in $data, log in $data/server.log)"
fi
echo "Supervisor console: $server_url/console (sam.super / super-pass-1, admin / admin-pass-1)"

new_code() {
    "$server" --data "$data" admin enroll-code | awk '{print $1}'
}

if [[ -f "$phone/app.json" ]]; then
    echo "Phone: $phone is set up; unlock it with its PIN (Gia Guard's demo PIN is $pin)."
elif [[ "$(basename "$phone")" == "rounds-phone" ]]; then
    code=$(new_code) || fail "issuing an enrollment code failed (see above)."
    "$bin/rounds-device" enroll --data "$phone" --server "$server_url" --code "$code" \
        --name "Lincoln post phone" --username gia.guard --password guard-pass-1 --pin "$pin" >/dev/null ||
        fail "enrolling $phone as Gia Guard's phone failed (see above)."
    echo "Phone: $phone is enrolled as Lincoln post phone; Gia Guard unlocks it with PIN $pin."
else
    mkdir -p "$phone"
    code=$(new_code) || fail "issuing an enrollment code failed (see above)."
    cat <<MSG
Phone: $phone is new, so the app opens on its set-up screen. Enter:
    District server address:  $server_url
    Enrollment code:          $code   (one use, valid 24 hours)
    and one of the demo people below, with a PIN of 10 digits or more (or a passphrase of
    8 characters or more with letters in it).
MSG
fi

cat <<MSG

Demo people (username / password): admin / admin-pass-1, sam.super / super-pass-1,
gia.guard / guard-pass-1, gus.guard / guard-pass-2, olga.sro / sro-pass-1, omar.sro / sro-pass-2.
To add another phone, run this again with a new folder (the server running now is reused):
    ROUNDS_PHONE=other-phone scripts/run.sh
MSG

if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
    echo "Opening the Rounds window..."
    ROUNDS_DATA="$phone" "$bin/rounds-field" || fail "the Rounds window closed with an error (see above)."
else
    app_port="${ROUNDS_APP_PORT:-}"
    if [[ -z "$app_port" ]]; then
        for p in $(seq $((port + 1)) $((port + 20))); do
            listening "$p" || { app_port=$p; break; }
        done
        [[ -n "$app_port" ]] || fail "no free port from $((port + 1)) to $((port + 20)) for the app; set ROUNDS_APP_PORT."
    elif listening "$app_port"; then
        fail "port $app_port (ROUNDS_APP_PORT) is taken; choose another."
    fi
    "$bin/rounds-app-bridge" --data "$phone" --listen "127.0.0.1:$app_port" >>"$phone/bridge.log" 2>&1 &
    bridge_pid=$!
    pids+=("$bridge_pid")
    for _ in $(seq 100); do
        listening "$app_port" && break
        kill -0 "$bridge_pid" 2>/dev/null || { tail -n 20 "$phone/bridge.log" >&2; fail "the app's bridge stopped at start (log: $phone/bridge.log)."; }
        sleep 0.1
    done
    listening "$app_port" || fail "the app's bridge did not listen on 127.0.0.1:$app_port within 10 s (log: $phone/bridge.log)."
    cat <<MSG

No display here, so the app's window cannot open. Either
  - run it under a virtual display:
        xvfb-run -n 99 -f /tmp/rounds.xauth -s "-screen 0 1024x900x24" scripts/run.sh
    and look at it from another shell (the window is 390x844, like a phone):
        XAUTHORITY=/tmp/rounds.xauth DISPLAY=:99 import -window root shot.png
    or
  - use the same app in a browser, served now at http://127.0.0.1:$app_port
    (the UI and the same Rust commands over a loopback bridge; forward the port over ssh).
Ctrl-C stops what this run started.
MSG
    wait "$bridge_pid" || fail "the app's bridge stopped (log: $phone/bridge.log)."
fi
