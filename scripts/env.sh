# Shared settings of the project scripts (sourced, not run).
# One target dir outside the clone, shared by the demo, the tests and CI, so a newcomer compiles
# once and a fresh clone reuses an earlier build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rateme/target}"
# The plugin ABI needs every crate to link std dynamically (.cargo/config.toml sets it); an
# inherited RUSTFLAGS would replace that list, so keep the flag in it.
if [ -n "${RUSTFLAGS:-}" ] && [[ "$RUSTFLAGS" != *prefer-dynamic* ]]; then
  export RUSTFLAGS="$RUSTFLAGS -C prefer-dynamic"
fi
# The targets every script builds: everything, tests and benches included, so one command leaves
# the runner, every plugin library and the test binaries up to date. (Any other cargo selection
# builds the same plugin SDK too: the SDK pins its dependencies' features.)
RATEME_TARGETS=(--workspace --lib --bins --tests --benches)
