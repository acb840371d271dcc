#!/usr/bin/env bash
# Forward+backward images/s of RateMeAI's four backbones at their native sizes (EfficientNet-B5
# at 456; ConvNeXt-Base, ViT-B/16 and CLIP ViT-B/32 at 224) and EfficientNet-Lite0, batch 4,
# 2 threads: rateme on flex (`cpu`) and on LibTorch (`tch-cpu`, the `tch` build) and PyTorch eager
# (the references, pinned torch venv) in one run, one model at a time, with the ratios.
#   bash benches/backbones.sh [--rounds N] [iterations] [model ...]   (models: plugin/variant)
# flex runs once per model; `tch` and PyTorch alternate for N rounds (default 3, the order
# swapped every round), and the table gives their medians, the median of the per-round
# tch / PyTorch ratios and their range: a shared host moves one run by up to a quarter.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/torch-venv.sh
torch_venv
rounds=3
if [ "${1:-}" = "--rounds" ]; then
  rounds="$2"
  shift 2
fi
iterations="${1:-3}"
# The dev profile trains within ~5% of release (see Cargo.toml) and shares the tests' build.
cargo build --quiet "${RATEME_TARGETS[@]}"
flex_bin="$CARGO_TARGET_DIR/debug"
# The tch build (its own target dir, as the test command builds it).
bash scripts/setup-libtorch.sh >/dev/null
tch_bin=$(source scripts/tch-env.sh && cargo build --quiet "${RATEME_TCH_TARGETS[@]}" && echo "$CARGO_TARGET_DIR/debug")
export RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
# fwdbwd links the SDK library beside it (the runner has an rpath for that; this tool does not).
std_lib="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | awk '/host/ {print $2}')/lib"
# `fwdbwd <bin dir> <plugin> <variant> <device>`: images/s and input size, one per line.
fwdbwd() {
  LD_LIBRARY_PATH="$1:$std_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$1/fwdbwd" "$1" "$2" "$3" 4 "$iterations" "$4" | awk '/images_per_s/ {print $2; print $3}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# The median of the numbers on stdin, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
printf '| model | input | rateme flex img/s | rateme tch img/s | PyTorch eager img/s | flex / PyTorch | tch / PyTorch | tch / PyTorch, range of %s rounds |\n' "$rounds"
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(efficientnet/b5 convnext/base vit/b16 clip/vit-b32 efficientnet/lite0)
for model in "${models[@]}"; do
  plugin="${model%%/*}" variant="${model#*/}"
  flex=$(fwdbwd "$flex_bin" "$plugin" "$variant" cpu)
  size=$(echo "$flex" | sed -n 2p)
  flex=$(echo "$flex" | sed -n 1p)
  ours=() theirs=() ratios=()
  for round in $(seq "$rounds"); do
    run_ours() { ours+=("$(fwdbwd "$tch_bin" "$plugin" "$variant" tch-cpu | sed -n 1p)"); }
    run_theirs() {
      theirs+=("$("$torch_python" benches/backbones_torch.py "$model" 4 "$iterations" 2 2>/dev/null |
        awk '/images_per_s/ {print $2}')")
    }
    if [ $((round % 2)) -eq 1 ]; then run_ours; run_theirs; else run_theirs; run_ours; fi
    ratios+=("$(ratio "${ours[-1]}" "${theirs[-1]}")")
  done
  tch=$(printf '%s\n' "${ours[@]}" | median | xargs printf '%.3f')
  torch=$(printf '%s\n' "${theirs[@]}" | median | xargs printf '%.3f')
  low=$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)
  high=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)
  printf '| %s | %s | %s | %s | %s | %s× | %s× | %s–%s× |\n' "$model" "$size" "$flex" "$tch" "$torch" \
    "$(ratio "$flex" "$torch")" "$(printf '%s\n' "${ratios[@]}" | median | xargs printf '%.2f')" "$low" "$high"
done
