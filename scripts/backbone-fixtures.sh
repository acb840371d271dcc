#!/usr/bin/env bash
# Writes plugins/{convnext,vit,clip}/tests/fixtures/: small ConvNeXts, ViTs and CLIP image towers
# with random weights built by the reference libraries (torchvision, timm, open_clip, Hugging Face
# transformers), their weights in the checkpoint formats users bring, the features PyTorch
# computes for a random input, and the parameter counts of the full-size models, which the
# plugins' parity tests compare rateme with. Offline: no weights or configs are downloaded.
# Idempotent (reruns write identical bytes); rerun after changing scripts/backbone_fixtures.py
# and commit the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch-venv.sh
torch_venv
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
for family in convnext vit clip; do
  out=plugins/$family/tests/fixtures
  mkdir -p "$out"
  "$torch_python" scripts/backbone_fixtures.py "$family" "$out"
  echo "wrote $out" >&2
done
