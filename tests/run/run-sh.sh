#!/usr/bin/env bash
# scripts/run.sh as a newcomer runs it, headless (so it serves the app over the bridge), in a
# temporary folder: a first run starts the server and enrolls Gia Guard's phone; a second run
# reuses the running server (no second server, no re-seeding, the log kept); a second phone
# folder opens on the set-up screen with a fresh enrollment code; a port held by another
# program and a failed build end with a clear message and a non-zero exit. Ends with a
# libtest-style `test result:` line. Needs the debug binaries built (scripts/test.sh does).
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
base=$((20000 + RANDOM % 20000))
export ROUNDS_PORT=$base ROUNDS_DATA="$tmp/data"
unset DISPLAY WAYLAND_DISPLAY
passed=0
failed=0
groups=()

cleanup() {
    for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done
    sleep 0.5
    for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "  ok   $1"; passed=$((passed + 1)); }
bad() { echo "  FAIL $1"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
contains() { [[ "$1" == *"$2"* ]]; }

# Starts run.sh in its own process group with output to $1; extra env before the command.
start_run() {
    local out=$1; shift
    setsid env "$@" bash "$repo/scripts/run.sh" >"$out" 2>&1 </dev/null &
    groups+=($!)
}

# Waits (at most $2 seconds) for the output file $1 to hold the pattern $3.
wait_for() {
    for _ in $(seq $(($2 * 10))); do
        grep -q "$3" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "    (waited $2 s for '$3' in $1:)"; sed 's/^/    | /' "$1" | tail -n 15
    return 1
}

app_url() { grep -o 'served now at http://127.0.0.1:[0-9]*' "$1" | grep -o 'http://.*'; }

# The bridge's page token, then a command through it, as the page would send it.
invoke() {
    local url=$1 name=$2 host=${1#http://}
    local token
    token=$(curl -fs "$url/" | grep -o 'rounds-bridge-token" content="[0-9a-f]*' | grep -o '[0-9a-f]*$')
    curl -fs -X POST -H "Origin: $url" -H "x-rounds-token: $token" -H 'content-type: application/json' -d '{}' "$url/invoke/$name"
}

# --- first run: a new server with the demo district, Gia's phone enrolled ---
start_run "$tmp/run1.out" ROUNDS_PHONE="$tmp/rounds-phone"
if wait_for "$tmp/run1.out" 240 'served now at'; then
    ok "a first run starts the server and serves the app"
    check "it wrote a new demo district" grep -q 'a new demo district' "$tmp/run1.out"
    check "the default phone folder is enrolled as Gia Guard's" test -f "$tmp/rounds-phone/app.json"
    url1=$(app_url "$tmp/run1.out")
    check "the app's page loads" curl -fs -o /dev/null "$url1/"
    check "the enrolled phone opens on its unlock screen" contains "$(invoke "$url1" state)" '"stage":"locked"'
else
    bad "a first run starts the server and serves the app"
fi
log_before=$(wc -c <"$tmp/data/server.log" 2>/dev/null || echo 0)

# --- second run on the same folders: the running server is reused ---
start_run "$tmp/run2.out" ROUNDS_PHONE="$tmp/rounds-phone"
if wait_for "$tmp/run2.out" 120 'served now at'; then
    ok "a second run starts too"
    check "it reuses the server already running" grep -q 'already running on http://127.0.0.1:'"$base" "$tmp/run2.out"
    check "it does not re-seed the database" bash -c "! grep -q 'new demo district\|re-seed' '$tmp/run2.out'"
    check "it does not truncate the server's log" bash -c "(( \$(wc -c <'$tmp/data/server.log') >= $log_before )) && (( $log_before > 0 ))"
    check "it starts no second server" bash -c "(( \$(grep -c 'run.sh starts the server' '$tmp/data/server.log') == 1 ))"
    check "it serves the app on another port" bash -c "[[ '$(app_url "$tmp/run2.out")' != '${url1:-}' ]]"
else
    bad "a second run starts too"
fi

# --- a second phone folder: the set-up screen, with a fresh code printed ---
start_run "$tmp/run3.out" ROUNDS_PHONE="$tmp/other-phone"
if wait_for "$tmp/run3.out" 120 'served now at'; then
    ok "a run with a new phone folder starts"
    check "it prints a fresh enrollment code" grep -Eq 'Enrollment code: +[A-Za-z0-9-]{6,}' "$tmp/run3.out"
    check "it does not enroll the new phone as Gia Guard" test ! -f "$tmp/other-phone/app.json"
    url3=$(app_url "$tmp/run3.out")
    check "the new phone opens on the set-up screen" contains "$(invoke "$url3" state)" '"stage":"setup"'
else
    bad "a run with a new phone folder starts"
fi

# --- failures: a clear message and a non-zero exit ---
python3 -m http.server "$((base + 50))" --bind 127.0.0.1 >/dev/null 2>&1 &
web=$!
groups+=("$web")
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$((base + 50))") 2>/dev/null && break; sleep 0.1; done
ROUNDS_PORT=$((base + 50)) ROUNDS_PHONE="$tmp/p4" timeout 120 bash "$repo/scripts/run.sh" >"$tmp/run4.out" 2>&1 </dev/null
code=$?
check "a port held by another program: non-zero exit" test "$code" -ne 0
check "... and says so" grep -q "port $((base + 50)) is taken by a program that is not a Rounds server" "$tmp/run4.out"
kill "$web" 2>/dev/null

# A cargo whose builds fail (anything else goes to the real one).
real_cargo=$(command -v cargo)
mkdir -p "$tmp/fake"
printf '#!/bin/sh\nif [ "$1" = build ]; then echo "error[E0000]: a compile error" >&2; exit 101; fi\nexec %s "$@"\n' "$real_cargo" >"$tmp/fake/cargo"
chmod +x "$tmp/fake/cargo"
PATH="$tmp/fake:$PATH" ROUNDS_PORT=$((base + 60)) ROUNDS_PHONE="$tmp/p5" timeout 120 bash "$repo/scripts/run.sh" >"$tmp/run5.out" 2>&1 </dev/null
code=$?
check "a failed build: non-zero exit" test "$code" -ne 0
check "... and says so, starting nothing" grep -q 'the build failed' "$tmp/run5.out"

echo "test result: $([[ $failed == 0 ]] && echo ok || echo FAILED). $passed passed; $failed failed; (run.sh)"
[[ $failed == 0 ]]
