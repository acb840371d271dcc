#!/usr/bin/env bash
# Writes plugins/heads/tests/fixtures/: RateMeAI's ComplexHead in each of its model wrappers
# (EfficientNet `_fc`, CLIP LayerNorm front, ConvNeXt classifier) and LAION's aesthetic MLP, with
# random weights under the references' own state-dict names and the outputs PyTorch computes,
# plus full-size parameter counts, which plugins/heads/tests/parity.rs compares rateme with.
# Idempotent (reruns write identical bytes); rerun after changing scripts/head_fixtures.py and
# commit the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch-venv.sh
torch_venv
out=plugins/heads/tests/fixtures
mkdir -p "$out"
"$torch_python" scripts/head_fixtures.py "$out"
echo "wrote $out" >&2
