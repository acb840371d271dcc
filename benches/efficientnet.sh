#!/usr/bin/env bash
# Forward+backward images/s of EfficientNet-B5 at 456 and Lite0 at 224, batch 4, 2 threads:
# rateme (flex) and PyTorch eager (the references, pinned torch venv) in one run, with the
# ratio. `tch` joins when the LibTorch build links again (issue 20).
#   bash benches/efficientnet.sh [iterations]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/torch-venv.sh
torch_venv
iterations="${1:-3}"
# The dev profile trains within ~5% of release (see Cargo.toml) and shares the tests' build.
cargo build --quiet "${RATEME_TARGETS[@]}"
bin="$CARGO_TARGET_DIR/debug"
export RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2
# fwdbwd links the SDK library beside it (the runner has an rpath for that; this tool does not).
export LD_LIBRARY_PATH="$bin:$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | awk '/host/ {print $2}')/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
printf '| model | input | rateme flex img/s | PyTorch eager img/s | flex / PyTorch |\n|---|---:|---:|---:|---:|\n'
for spec in "b5 456" "lite0 224"; do
  set -- $spec
  ours=$("$bin/fwdbwd" "$bin" efficientnet "$1" 4 "$iterations" | awk '/images_per_s/ {print $2}')
  theirs=$("$torch_python" benches/efficientnet_torch.py "$1" 4 "$iterations" 2 | awk '/images_per_s/ {print $2}')
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
  printf '| %s | %s | %s | %s | %s× |\n' "$1" "$2" "$ours" "$theirs" "$ratio"
done
