#!/usr/bin/env bash
# Sets up the machine and runs Rounds. For now: the device-store demo, which creates an
# encrypted store in ./demo-data, walks a guard's round and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rounds-target}"
cargo run --release -q -p rounds-core --example demo -- "${1:-demo-data}"
