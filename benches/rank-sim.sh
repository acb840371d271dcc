#!/usr/bin/env bash
# The pairing-mode benchmark (a benchmark, not a timed test): simulated raters rank N = 100 and
# 500 items with each pairing mode; writes results/rank-sim/rank-sim.{md,csv,svg} and prints the
# report. Takes a few minutes on 2 cores in release mode. Options go to the binary, e.g.
#   bash benches/rank-sim.sh --items 100 --seeds 20
#   bash benches/rank-sim.sh --modes random,smart-shuffle,active,active-information,sort,sort-median
# (rank-sim --help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
exec cargo run --quiet --release -p rateme-rank --bin rank-sim -- "$@"
