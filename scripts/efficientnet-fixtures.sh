#!/usr/bin/env bash
# Writes plugins/efficientnet/tests/fixtures/: small EfficientNets with random weights built by
# the reference libraries (efficientnet-pytorch, torchvision), their weights in the checkpoint
# formats users bring, the pooled features PyTorch computes for a random input, and the
# parameter counts of the full-size models, which the plugin's parity tests compare rateme with.
# Idempotent (reruns write identical bytes); rerun after changing
# scripts/efficientnet_fixtures.py and commit the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch-venv.sh
torch_venv
out=plugins/efficientnet/tests/fixtures
mkdir -p "$out"
"$torch_python" scripts/efficientnet_fixtures.py "$out"
echo "wrote $out" >&2
