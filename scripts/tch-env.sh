# Settings of the LibTorch (`tch`) build, sourced after scripts/env.sh (and after
# `bash scripts/setup-libtorch.sh`, which assembles the LibTorch it points at).
# The tch build has its own target dir: the same crates with other features would otherwise
# replace the default build's runner and plugin libraries in place.
export LIBTORCH="${LIBTORCH:-$HOME/.cache/rateme/libtorch-2.11}"
# torch-sys 0.22 was written for PyTorch 2.9; its shim compiles against 2.11's headers (checked,
# see ../shared/design/backends.md), the version the GPU machine has.
export LIBTORCH_BYPASS_VERSION_CHECK=1
export CARGO_TARGET_DIR="${RATEME_TCH_TARGET_DIR:-$HOME/.cache/rateme/target-tch}"
# The tch build's targets: the same selection as the default build's RATEME_TARGETS (every
# crate, tests and benches too), so that every cargo command of this build resolves the same
# features and builds the same SDK library the plugin libraries were linked against.
RATEME_TCH_TARGETS=(--workspace --lib --bins --tests --benches --features rateme/tch)
