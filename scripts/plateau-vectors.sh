#!/usr/bin/env bash
# Writes core/train/tests/data/plateau_vectors.json: the learning rates PyTorch's
# torch.optim.lr_scheduler.ReduceLROnPlateau gives for many settings and metric sequences,
# which core/train/tests/plateau_vectors.rs compares rateme's schedule with.
# Idempotent; rerun after changing scripts/plateau_vectors.py and commit the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch-venv.sh
torch_venv
out=core/train/tests/data/plateau_vectors.json
mkdir -p "$(dirname "$out")"
"$torch_python" scripts/plateau_vectors.py "$out"
echo "wrote $out" >&2
