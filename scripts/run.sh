#!/usr/bin/env bash
# Sets up the machine and runs Rounds: the district server on its embedded SQLite store with the
# demo district, and the field app (the Tauri window) enrolled into it as Gia Guard's post phone.
# Closing the app's window (or Ctrl-C) stops everything.
#
#   ROUNDS_PORT    server port (default 8080)
#   ROUNDS_DATA    server data folder (default ./rounds-data)
#   ROUNDS_PHONE   the phone's data folder (default ./rounds-phone)
#
# With no display (DISPLAY/WAYLAND_DISPLAY unset) it says how to run under Xvfb, and serves the
# same app to a browser on 127.0.0.1:$((port+1)) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rounds-target}"
port="${ROUNDS_PORT:-8080}"
data="${ROUNDS_DATA:-rounds-data}"
phone="${ROUNDS_PHONE:-rounds-phone}"
pin=246810

# Debug builds share the target folder with scripts/test.sh (dependencies are optimised).
echo "Building (the first build takes several minutes)..."
cargo build -q -p rounds-server -p rounds-app -p rounds-field
bin="$CARGO_TARGET_DIR/debug"

mkdir -p "$data"
"$bin/rounds-server" --data "$data" admin seed-demo
"$bin/rounds-server" --data "$data" serve --listen "127.0.0.1:$port" >"$data/server.log" 2>&1 &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "${pids[0]}" 2>/dev/null || { cat "$data/server.log"; exit 1; }
    sleep 0.1
done
echo "District server: http://127.0.0.1:$port (data in $data, log in $data/server.log)"
echo "Supervisor console: http://127.0.0.1:$port/console (sam.super / super-pass-1, admin / admin-pass-1)"

if [[ ! -f "$phone/app.json" ]]; then
    code=$("$bin/rounds-server" --data "$data" admin enroll-code | awk '{print $1}')
    "$bin/rounds-device" enroll --data "$phone" --server "http://127.0.0.1:$port" --code "$code" \
        --name "Lincoln post phone" --username gia.guard --password guard-pass-1 --pin "$pin"
fi

cat <<MSG

The phone in $phone is enrolled; Gia Guard unlocks it with PIN $pin.
Demo people (username / password): admin / admin-pass-1, sam.super / super-pass-1,
gia.guard / guard-pass-1, gus.guard / guard-pass-2, olga.sro / sro-pass-1, omar.sro / sro-pass-2.
To set up another phone, run the app with an empty data folder (ROUNDS_PHONE=other-phone) and
get a code with: $bin/rounds-server --data $data admin enroll-code
MSG

if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
    echo "Opening the Rounds window..."
    ROUNDS_DATA="$phone" "$bin/rounds-field"
else
    "$bin/rounds-app-bridge" --data "$phone" --listen "127.0.0.1:$((port + 1))" >"$phone/bridge.log" 2>&1 &
    pids+=($!)
    cat <<MSG

No display here, so the app's window cannot open. Either
  - run it under a virtual display:
        xvfb-run -n 99 -f /tmp/rounds.xauth -s "-screen 0 1024x900x24" scripts/run.sh
    and look at it from another shell (the window is 390x844, like a phone):
        XAUTHORITY=/tmp/rounds.xauth DISPLAY=:99 import -window root shot.png
    or
  - use the same app in a browser, served now at http://127.0.0.1:$((port + 1))
    (the UI and the same Rust commands over a loopback bridge; forward the port over ssh).
Ctrl-C stops everything.
MSG
    wait "${pids[0]}"
fi
