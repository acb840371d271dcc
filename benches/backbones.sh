#!/usr/bin/env bash
# Forward+backward images/s of RateMeAI's four backbones at their native sizes (EfficientNet-B5
# at 456; ConvNeXt-Base, ViT-B/16 and CLIP ViT-B/32 at 224) and EfficientNet-Lite0, batch 4,
# 2 threads: rateme (flex) and PyTorch eager (the references, pinned torch venv) in one run,
# with the ratio. `tch` joins when the LibTorch build links again (issue 20).
#   bash benches/backbones.sh [iterations] [model ...]   (models: plugin/variant)
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
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(efficientnet/b5 convnext/base vit/b16 clip/vit-b32 efficientnet/lite0)
for model in "${models[@]}"; do
  plugin="${model%%/*}" variant="${model#*/}"
  ours=$("$bin/fwdbwd" "$bin" "$plugin" "$variant" 4 "$iterations" | awk '/images_per_s/ {print $2; print $3}')
  size=$(echo "$ours" | sed -n 2p)
  ours=$(echo "$ours" | sed -n 1p)
  theirs=$("$torch_python" benches/backbones_torch.py "$model" 4 "$iterations" 2 | awk '/images_per_s/ {print $2}')
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
  printf '| %s | %s | %s | %s | %s× |\n' "$model" "$size" "$ours" "$theirs" "$ratio"
done
