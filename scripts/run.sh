#!/usr/bin/env bash
# Sets up the machine and runs Rounds: the district server on its embedded SQLite store with
# the demo district, and a guard's phone (for now the device demo; the field app comes with the
# app issue) enrolled into it, which walks a round and syncs it. The server keeps running until
# Ctrl-C.
#
#   ROUNDS_PORT   server port (default 8080)
#   ROUNDS_DATA   server data folder (default ./rounds-data)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rounds-target}"
port="${ROUNDS_PORT:-8080}"
data="${ROUNDS_DATA:-rounds-data}"

cargo build --release -q -p rounds-server
cargo build --release -q -p rounds-core --example demo
server="$CARGO_TARGET_DIR/release/rounds-server"

"$server" --data "$data" admin seed-demo
"$server" --data "$data" serve --listen "127.0.0.1:$port" >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || { cat "$data/server.log"; exit 1; }
    sleep 0.1
done
echo "District server: http://127.0.0.1:$port (data in $data, log in $data/server.log)"

code=""
if [[ ! -f demo-data/device.db ]]; then
    code=$("$server" --data "$data" admin enroll-code | awk '{print $1}')
    echo "Enrollment code for the phone: $code"
fi
"$CARGO_TARGET_DIR/release/examples/demo" demo-data --server "http://127.0.0.1:$port" ${code:+--code "$code"}

cat <<MSG

Demo people (username / password): admin / admin-pass-1, sam.super / super-pass-1,
gia.guard / guard-pass-1, gus.guard / guard-pass-2, olga.sro / sro-pass-1, omar.sro / sro-pass-2.
Run scripts/run.sh again to walk another round. The server runs until Ctrl-C.
MSG
wait $pid
