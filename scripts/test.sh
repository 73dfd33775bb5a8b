#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy, all tests (unit, integration, the crash kill
# loop, the convergence property test), the benchmarks in their quick mode, the UI's logic
# tests, the browser journeys (Playwright + chromium) and the Tauri journey (Xvfb).
#
# Deeper settings for the long suites (run before resolving an issue):
#   ROUNDS_DEEP=1 PROPTEST_CASES=2000 scripts/test.sh     # 500 kills, 2000 property cases
#   cargo bench -p rounds-core --bench store              # full-size benchmark
set -euo pipefail
cd "$(dirname "$0")/.."

# How long each part took, printed at the end (CI's time budget is watched part by part).
timings=()
mark=$SECONDS
took() {
    timings+=("$(printf '%5d s  %s' $((SECONDS - mark)) "$1")")
    mark=$SECONDS
}

bash scripts/setup.sh
took "setup (packages, tauri-driver)"

# haproxy is installed in /usr/sbin, outside a plain user's PATH.
export PATH="$PATH:/usr/sbin"
# Every program the tests call, with the Debian package that provides it: a machine where
# setup.sh missed one fails here at once, with the package named, not half an hour in.
need=(
    cc:build-essential make:make perl:perl pkg-config:pkg-config mold:mold curl:curl node:nodejs
    npm:npm chromium:chromium Xvfb:xvfb xauth:xauth WebKitWebDriver:webkit2gtk-driver
    dbus-run-session:dbus-daemon convert:imagemagick pdftoppm:poppler-utils
    pdftotext:poppler-utils pdfinfo:poppler-utils haproxy:haproxy tauri-driver:"tauri-driver (cargo install tauri-driver)"
)
absent=()
for entry in "${need[@]}"; do
    command -v "${entry%%:*}" >/dev/null || absent+=("${entry%%:*} (package ${entry#*:})")
done
if ((${#absent[@]})); then
    printf 'scripts/test.sh: missing programs the tests need:\n' >&2
    printf '  %s\n' "${absent[@]}" >&2
    echo 'scripts/setup.sh should have installed them; install them and run again.' >&2
    exit 1
fi
# A target folder outside the clone lets later runs on the same machine reuse builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rounds-target}"

cargo fmt --all --check

# One build for everything: clippy runs as the workspace's compiler (what `cargo clippy
# --workspace --all-targets -- -D warnings` does, but producing real code instead of a
# check-only pass, so nothing is compiled twice), in the test profile, for every target (tests,
# benches, examples and the binaries the journeys start). The same environment stays for every
# cargo command below, so none of them rebuilds. Incremental state is not written: it costs a
# fresh build time and only helps an edit-compile loop, which CI is not.
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
export CARGO_INCREMENTAL=0
# Linking a dozen large test binaries is a good part of the build: mold does it in a fraction
# of the time of the default linker.
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
# scripts/run.sh (run for real below) builds exactly this too, a no-op by then.
export ROUNDS_BUILD_ARGS="--profile test --workspace --all-targets"
# `--timings` leaves a report of what each crate cost in $CARGO_TARGET_DIR/cargo-timings/.
# shellcheck disable=SC2086
cargo build $ROUNDS_BUILD_ARGS --timings
took "cargo build (clippy included)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Doc tests only when some doc comment opens a Rust example (a fence with no language, or
# rust/no_run/should_panic/compile_fail/ignore): today every fence is `text`, and running
# rustdoc over each crate to find nothing cost half a minute of a fresh run.
if find crates src-tauri/src -name '*.rs' -print0 | xargs -0 awk '
    FNR == 1 { open = 0 }
    /^[ \t]*\/\/[\/!][ \t]*```/ {
        lang = $0
        sub(/^[ \t]*\/\/[\/!][ \t]*```/, "", lang)
        gsub(/[ \t]/, "", lang)
        if (!open && (lang == "" || lang ~ /^(rust|no_run|should_panic|compile_fail|ignore)/)) found = 1
        open = !open
    }
    END { if (found) print FILENAME }' | grep -q .; then
    cargo test --workspace --doc 2>&1 | tee "$log"
else
    echo "doc tests: none (no doc comment holds a Rust example)" | tee "$log"
fi
took "doc tests"
# --all-targets runs the bench binaries too, in their quick test mode.
cargo test --workspace --all-targets 2>&1 | tee -a "$log"
took "cargo tests"
# The server's end-to-end suites again, from the same test code, on PostgreSQL: each server
# gets a fresh database in a private cluster the test process starts (crates/pgtest). The
# backup test is the embedded store's, and the migrate test goes from it to PostgreSQL: both
# ran above.
# `--workspace`, not `-p rounds-server`: features are resolved as for the build above, so
# nothing is compiled again (one package alone resolves them differently and rebuilt a dozen
# crates).
ROUNDS_TEST_BACKEND=postgres cargo test --workspace --test e2e -- --skip backup:: --skip migrate:: 2>&1 | tee -a "$log"
took "server suites on PostgreSQL"

# --- Tauri journey ---
# The real field app (src-tauri) under Xvfb, driven through tauri-driver and WebKitWebDriver
# against a real district server: setup, a shift, an all-clear check, a sync. The binaries are
# the one build's above. The script ends with a libtest-style `test result:` line, counted
# below as one test.
ROUNDS_FIELD_BIN="$CARGO_TARGET_DIR/debug/rounds-field" \
    ROUNDS_SERVER_BIN="$CARGO_TARGET_DIR/debug/rounds-server" \
    node tests/tauri/journey.mjs 2>&1 | tee -a "$log"
took "Tauri journey"
# --- end of Tauri journey ---

# --- UI logic and browser journeys ---
# The UI's own logic under node's test runner, then the field app in Debian's chromium
# (playwright-core) at a phone's viewport against the real core (over the loopback bridge) and
# a real district server: tests/ui/journey.mjs. Both end with a libtest-style line for the tally.
node --test ui/test/ 2>&1 | tee "$log.node"
awk '/^# pass/ { p = $3 } /^# fail/ { f = $3 } END { printf "test result: %s. %d passed; %d failed; (ui logic)\n", f ? "FAILED" : "ok", p, f }' "$log.node" | tee -a "$log"
rm -f "$log.node"
(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
node tests/ui/journey.mjs 2>&1 | tee -a "$log"
took "UI logic and browser journeys"
# --- end of UI journeys ---

# --- run.sh ---
# scripts/run.sh run for real, headless, in a temporary folder: a first run, a second one that
# reuses the server, a second phone folder, a taken port and a failed build (under a minute on
# a warm build). Ends with a libtest-style line for the tally.
bash tests/run/run-sh.sh 2>&1 | tee -a "$log"
took "run.sh"
# --- end of run.sh ---

# --- console journey ---
# The supervisor console in Debian's chromium (playwright-core) against the real rounds-server
# binary, with a day of field work pushed through the real sync client by the console_day
# example: tests/console/journey.mjs (screenshots in docs/screens/console-*.png, the PDF
# rendered with pdftoppm, the CSV parsed). Ends with a libtest-style line for the tally.
(cd tests/console && npm ci --no-audit --no-fund --loglevel=error)
node tests/console/journey.mjs 2>&1 | tee -a "$log"
took "console journey"
# --- end of console journey ---

printf '%s\n' "${timings[@]}"
printf '%5d s  in all\n' "$SECONDS"
# One closing line over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
