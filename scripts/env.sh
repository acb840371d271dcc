# Shared settings of the project scripts (sourced, not run).
# One target dir outside the clone, shared by the demo, the tests and CI, so a newcomer compiles
# once and a fresh clone reuses an earlier build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rateme/target}"
# The plugin ABI needs every crate to link std dynamically (.cargo/config.toml sets it); an
# inherited RUSTFLAGS would replace that list, so keep the flag in it.
if [ -n "${RUSTFLAGS:-}" ] && [[ "$RUSTFLAGS" != *prefer-dynamic* ]]; then
  export RUSTFLAGS="$RUSTFLAGS -C prefer-dynamic"
fi
# The one set of targets every script builds: the demo, the tests and the benches link the same
# SDK build only if cargo resolves the same features, i.e. builds the same targets.
RATEME_TARGETS=(--workspace --lib --bins --tests --benches)
