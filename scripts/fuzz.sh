#!/usr/bin/env bash
# Fuzzes rateme-pixels' decoding and pad + resize (fuzz/fuzz_targets/decode_prepare.rs) for a
# fixed time, and fails if libFuzzer finds a crash, a panic, a leak or a timeout.
#
#   bash scripts/fuzz.sh [seconds]     # default 120
#
# Installs a pinned cargo-fuzz once into ~/.cache/rateme/cargo-fuzz and runs it on the stable
# toolchain with RUSTC_BOOTSTRAP=1 (cargo-fuzz's -Z flags; no nightly needed), with
# AddressSanitizer (the decoders' SIMD code is `unsafe`). Build, corpus and crash artifacts live
# in ~/.cache/rateme/fuzz; the corpus is seeded from the decode fixtures and grows across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-120}"
CARGO_FUZZ_VERSION=0.13.1
cache="$HOME/.cache/rateme"
fuzz_root="$cache/cargo-fuzz"
if [ "$("$fuzz_root/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION into $fuzz_root (once)" >&2
  cargo install --locked --quiet --root "$fuzz_root" "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi
work="$cache/fuzz"
corpus="$work/corpus/decode_prepare"
artifacts="$work/artifacts/decode_prepare"
mkdir -p "$corpus" "$artifacts"
# Seeds: every fixture image, good and bad (not the reference pixels or the JSON).
find core/pixels/tests/fixtures/decode -type f ! -name '*.rgb' ! -name '*.json' \
  -exec cp -n {} "$corpus/" \;
export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$work/target"
before=$(find "$artifacts" -type f | wc -l)
status=0
"$fuzz_root/bin/cargo-fuzz" run --fuzz-dir fuzz decode_prepare "$corpus" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 || status=$?
after=$(find "$artifacts" -type f | wc -l)
if [ "$status" -ne 0 ] || [ "$after" -ne "$before" ]; then
  echo "fuzzing found a problem (exit $status); inputs in $artifacts:" >&2
  ls -t "$artifacts" | head >&2
  exit 1
fi
echo "fuzzed decode_prepare for ${seconds}s: no crash" >&2
