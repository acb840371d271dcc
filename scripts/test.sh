#!/usr/bin/env bash
# The test command (what CI runs): formatting, lints, then every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo fmt --all -- --check
cargo build "${RATEME_TARGETS[@]}"
cargo clippy "${RATEME_TARGETS[@]}" -- -D warnings
cargo test "${RATEME_TARGETS[@]}"
