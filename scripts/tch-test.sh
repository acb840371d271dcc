#!/usr/bin/env bash
# The LibTorch (`tch`) build, part of the test command: assembles LibTorch 2.11 from PyPI wheels
# once (cached in ~/.cache/rateme), then builds and lints the whole workspace with `tch` in its
# own target dir, and runs the tests that use LibTorch on CPU: device handling and a run on
# `tch-cpu` through the runner (core/runner/tests/tch.rs), the device-side step, the plugin
# libraries of that build, the zstd ingest (the SDK library's Rust zstd in this build).
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
