#!/usr/bin/env bash
# Installs the pinned MLflow server and client (plus pytest) into a venv cached outside the clone,
# and prints the venv's directory. Idempotent: a venv that already has the pinned set is reused.
set -euo pipefail
MLFLOW_VERSION=3.17.2
PYTEST_VERSION=8.4.2
venv="${RATEME_MLFLOW_VENV:-$HOME/.cache/rateme/mlflow-venv-$MLFLOW_VERSION}"
source "$(dirname "$0")/python-venv.sh"
pinned_venv "$venv" "mlflow==$MLFLOW_VERSION" "pytest==$PYTEST_VERSION"
echo "$venv"
