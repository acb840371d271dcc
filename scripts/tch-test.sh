#!/usr/bin/env bash
# The LibTorch (`tch`) build, part of the test command: assembles LibTorch 2.11 from PyPI wheels
# once (cached in ~/.cache/rateme), then builds and lints the whole workspace with `tch` in its
# own target dir, and runs the tests that use LibTorch on CPU: device handling and a run on
# `tch-cpu` through the runner (core/runner/tests/tch.rs), LibTorch's gradients (the patched
# burn-tch's convolution and activation backwards, the SDK's fused activations) against flex's
# (plugins/sdk/tests/tch.rs), the device-side step, the plugin libraries of that build, the zstd
# ingest (the SDK library's Rust zstd in this build).
# Then the GPU bundle and its device check on CPU (below).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup-libtorch.sh
source scripts/tch-env.sh
cargo build "${RATEME_TCH_TARGETS[@]}"
cargo clippy "${RATEME_TCH_TARGETS[@]}" -- -D warnings
# The same package selection (--workspace, with dev-dependencies), so the SDK is not rebuilt
# with other features: every crate's unit tests, and the runner tests that use LibTorch, load
# this build's plugin libraries, or read zstd.
cargo test --workspace --features rateme/tch --lib --test tch --test plugins --test ingest
# The bundle for the GPU machine and its device check, on CPU: the bundle built into a scratch
# folder and `gpu-check.sh --cpu` run from it in an empty environment (no cargo, no LibTorch
# tree: only the pinned torch venv's Python, whose torch/lib run.sh finds, as on the GPU
# machine). The check fails by itself when a measurement or the training run is missing; here
# its report must also hold all four models in both tables.
source scripts/torch-venv.sh
torch_venv
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
bash scripts/gpu-bundle.sh "$scratch/gpu-bundle" >/dev/null
env -i PATH=/usr/bin:/bin HOME="$HOME" RATEME_PYTHON="$torch_python" \
  "$scratch/gpu-bundle/gpu-check.sh" --cpu --out "$scratch/check" >/dev/null
report="$scratch/check/gpu-check.md"
for run in efficientnet-b5 convnext-base vit-b16 clip-vit-b32; do
  rows=$(grep -c "^| $run |" "$report" || true)
  if [ "$rows" != 2 ] || grep "^| $run |" "$report" | grep -q failed; then
    echo "error: gpu-check --cpu: $run has $rows rows (bench + results expected) or failed:" >&2
    cat "$report" >&2
    exit 1
  fi
done
echo "gpu-check --cpu from the bundle: ok ($(sed -n 4p "$report"))"
