#!/usr/bin/env bash
# Installs the pinned MLflow server and client (plus pytest) into a venv cached outside the clone,
# and prints the venv's directory. Idempotent: a venv that already has the pinned set is reused.
set -euo pipefail
MLFLOW_VERSION=3.17.2
PYTEST_VERSION=8.4.2
venv="${RATEME_MLFLOW_VENV:-$HOME/.cache/rateme/mlflow-venv-$MLFLOW_VERSION}"
stamp="$venv/.rateme-installed"
if [ ! -f "$stamp" ]; then
  echo "installing mlflow==$MLFLOW_VERSION into $venv (once)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "mlflow==$MLFLOW_VERSION" "pytest==$PYTEST_VERSION" >&2
  touch "$stamp"
fi
echo "$venv"
