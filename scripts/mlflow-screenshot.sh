#!/usr/bin/env bash
# Reproduces docs/mlflow-ui.png: starts a local MLflow server, trains the demo experiment with
# tracking on (outputs in a temporary folder, the committed results stay as they are), and takes
# a screenshot of the experiment's metric charts in headless Chromium (Debian's `chromium`, driven
# by playwright-core from npm; both installed by scripts/browser-env.sh when missing).
# Usage: bash scripts/mlflow-screenshot.sh [out.png]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
out="${1:-docs/mlflow-ui.png}"
source scripts/browser-env.sh
node_dir="$RATEME_NODE_DIR"
venv=$(bash scripts/mlflow-venv.sh)
cargo build "${RATEME_TARGETS[@]}"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
uri="http://127.0.0.1:$port"
setsid "$venv/bin/mlflow" server --backend-store-uri "sqlite:///$work/mlflow.db" \
  --artifacts-destination "$work/artifacts" --host 127.0.0.1 --port "$port" --workers 1 \
  >"$work/server.log" 2>&1 &
server=$!
trap 'kill -- -$server 2>/dev/null || true' EXIT
until curl -sf "$uri/health" >/dev/null; do sleep 0.5; done

# The demo experiment, writing into the temporary folder.
sed -e "s|^name = \"demo\"|name = \"demo\"\nresults_dir = \"$work/results\"|" \
    -e "s|^\[defaults\]|[defaults]\noutput_dir = \"$work/runs\"|" experiments/demo.toml >"$work/demo.toml"
"$CARGO_TARGET_DIR/debug/runner" "$work/demo.toml" --tracking-uri "$uri"

exp_id=$("$venv/bin/python" -c "from mlflow.tracking import MlflowClient; print(MlflowClient('$uri').get_experiment_by_name('demo').experiment_id)")
mkdir -p "$(dirname "$out")"
cp scripts/mlflow-screenshot.mjs "$node_dir/"
node "$node_dir/mlflow-screenshot.mjs" "$uri/#/experiments/$exp_id/runs?compareRunsMode=CHART" "$(realpath "$out")" val_
echo "wrote $out"
