#!/usr/bin/env bash
# Builds everything (runner + plugin libraries) and trains the embedded demo experiment on CPU.
# Extra arguments go to `runner` (e.g. `bash scripts/demo.sh experiments/demo.toml --resume`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build "${RATEME_TARGETS[@]}"
exec "$CARGO_TARGET_DIR/debug/runner" "$@"
