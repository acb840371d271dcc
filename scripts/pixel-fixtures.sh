#!/usr/bin/env bash
# Writes core/pixels/tests/fixtures/decode/: images in every format and mode rateme-pixels decodes,
# bad inputs, and what Pillow (the reference: RateMeAI's loader was PIL + torchvision) makes
# of them, decoded and padded + resized. Uses the pinned PyTorch venv (Pillow comes with
# torchvision; scripts/torch-venv.sh). Idempotent (reruns write identical bytes); rerun after
# changing scripts/pixel_fixtures.py and commit the fixtures. CI never runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch-venv.sh
torch_venv
out=core/pixels/tests/fixtures/decode
rm -f "$out"/*
mkdir -p "$out"
"$torch_python" scripts/pixel_fixtures.py "$out"
