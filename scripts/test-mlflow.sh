#!/usr/bin/env bash
# The MLflow tests: the runner against a real `mlflow server` (installed from PyPI into a cached
# venv by scripts/mlflow-venv.sh), checked with MLflow's own Python client. Needs the runner
# and plugins built (scripts/test.sh builds them first).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
venv=$(bash scripts/mlflow-venv.sh)
export RATEME_RUNNER="$CARGO_TARGET_DIR/debug/runner"
export RATEME_PLUGINS="$CARGO_TARGET_DIR/debug"
[ -x "$RATEME_RUNNER" ] || { echo "error: $RATEME_RUNNER missing; run scripts/test.sh (it builds first)" >&2; exit 1; }
unset MLFLOW_TRACKING_URI MLFLOW_TRACKING_TOKEN MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider core/runner/tests/mlflow "$@"
