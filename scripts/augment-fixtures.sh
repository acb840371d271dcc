#!/usr/bin/env bash
# Writes core/pixels/tests/fixtures/augment/torchvision.json: what torchvision computes for the
# parts of rateme's augmentation that have a reference: the colour operations (adjust_brightness,
# adjust_contrast, adjust_saturation, adjust_hue, alone and chained) on small float images with
# given factors, RandomResizedCrop.get_params boxes for given uniform draws (its own code run
# with torch's random calls replaced by those draws), and rotate by 90°. core/pixels/tests/
# augment.rs compares rateme with them. Small (a few KB) and deterministic: reruns write
# identical bytes. Rerun after changing scripts/augment_fixtures.py and commit the fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch-venv.sh
torch_venv
out=core/pixels/tests/fixtures/augment
mkdir -p "$out"
"$torch_python" scripts/augment_fixtures.py "$out/torchvision.json"
echo "wrote $out/torchvision.json" >&2
