#!/usr/bin/env bash
# Writes core/rank/tests/data/trueskill_vectors.json: TrueSkill results of Python `trueskill`
# 0.4.5 (from PyPI, into a venv cached in ~/.cache/rateme/) for the cases of its own test suite
# and more, which core/rank/tests/trueskill_vectors.rs compares the Rust implementation with.
# Idempotent; rerun after changing scripts/trueskill_vectors.py and commit the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
TRUESKILL_VERSION=0.4.5
SIX_VERSION=1.17.0
MPMATH_VERSION=1.3.0
venv="${RATEME_TRUESKILL_VENV:-$HOME/.cache/rateme/trueskill-venv-$TRUESKILL_VERSION}"
source scripts/python-venv.sh
pinned_venv "$venv" "trueskill==$TRUESKILL_VERSION" "six==$SIX_VERSION" "mpmath==$MPMATH_VERSION"
out=core/rank/tests/data/trueskill_vectors.json
"$venv/bin/python" scripts/trueskill_vectors.py "$out"
echo "wrote $out" >&2
