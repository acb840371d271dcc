#!/usr/bin/env bash
# Large-folder benchmark of `runner rank` (see benches/ranker_load.py): load time of 2000 images,
# /api/next and /api/vote latency per pairing mode over 4000 votes, restart time and exactness.
# Usage: bash benches/ranker-load.sh [--images N] [--votes V]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build "${RATEME_TARGETS[@]}" --quiet
python3 benches/ranker_load.py "$CARGO_TARGET_DIR/debug/runner" "$@"
