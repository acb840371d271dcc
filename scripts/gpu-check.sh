#!/usr/bin/env bash
# The GPU check: one command on a machine with a CUDA build of PyTorch 2.11 and no Rust, run from
# the bundle of scripts/gpu-bundle.sh (which copies this script into it):
#   tar -xJf gpu-bundle.tar.xz && gpu-bundle/gpu-check.sh [--out DIR]
# 1. For each of RateMeAI's four models (backbone + attention-MLP head as in
#    experiments/all_backbones.toml) at its backbone's native size (EfficientNet-B5 456, the others
#    224), batch 32: rateme's training images/s (`runner bench`: forward, backward, clipping,
#    AdamW on a synthetic batch on the device) in f32 and bf16, PyTorch's in eager f32 and AMP
#    bf16 on the same architecture (torchvision, transformers; gpu_check_torch.py), the ratios,
#    and the bf16 run's model FLOP/s and MFU (forward FLOPs from torch's flop counter, ×3 for
#    training, over the GPU's dense bf16 peak).
# 2. A short run of experiments/all_backbones.toml itself on synthetic data (RATEME_CHECK_BATCHES
#    batches per backbone, default 200; evaluation every 100), which writes its results table.
# Writes DIR/gpu-check.md (both tables) and DIR/gpu-check.log (everything the tools said);
# DIR defaults to $OUT (the device machine's return folder) or ./gpu-check.
# `--cpu` runs the same steps on LibTorch's CPU device at 64 pixels, batch 2, a step or two each:
# what scripts/tch-test.sh runs to test this script where there is no GPU.
# Python: $RATEME_PYTHON or python3, with torch, torchvision and transformers (run.sh finds
# LibTorch in the same Python).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$here/run.sh" ]; then
  echo "gpu-check.sh runs from the bundle: bash scripts/gpu-bundle.sh, then <bundle>/gpu-check.sh" >&2
  exit 2
fi
mode=gpu
out="${OUT:-$PWD/gpu-check}"
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) mode=cpu ;;
    --out) out="$2"; shift ;;
    *) echo "usage: gpu-check.sh [--cpu] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
py="${RATEME_PYTHON:-python3}"
export RATEME_PYTHON="$py"
exp="$here/experiments/all_backbones.toml"
if [ "$mode" = gpu ]; then
  device=cuda torch_device=cuda batch=32 warmup=5 steps=20 threads=
  batches="${RATEME_CHECK_BATCHES:-200}" eval_every=100 synthetic="{count=1024,size=256,seed=5}"
  models=(efficientnet-b5:456 convnext-base:224 vit-b16:224 clip-vit-b32:224)
  run_sets=()
else
  device=tch-cpu torch_device=cpu batch=2 warmup=1 steps=1 threads=2
  batches=2 eval_every=1 synthetic="{count=24,size=64,seed=5}"
  models=(efficientnet-b5:64 convnext-base:64 vit-b16:64 clip-vit-b32:64)
  run_sets=(--set batch_size=2 --set backbone.options.input_size=64)
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
log="$out/gpu-check.log"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
: >"$log"
started=$SECONDS
say() { echo "$*" | tee -a "$log" >&2; }

# rateme's images/s for one run and precision (the images/s column of `runner bench`).
rateme_rate() {
  local run="$1" size="$2" precision="$3" table
  table="$("$here/run.sh" bench "$exp" --run "$run" --device "$device" --set "batch_size=$batch" \
    --set "backbone.options.input_size=$size" --set "precision=$precision" \
    --warmup "$warmup" --steps "$steps" 2>>"$log")"
  echo "$table" >>"$log"
  echo "$table" | awk -F'|' -v run="$run" '{ gsub(/ /, "", $2) } $2 == run { gsub(/ /, "", $10); print $10 }'
}
json_field() { "$py" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "n/a" }'; }

gpu_name="$("$py" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")')"
torch_version="$("$py" -c 'import torch; print(torch.__version__)')"
# Dense bf16 peak of the GPU (NVIDIA's data sheets), for MFU; RATEME_PEAK_TFLOPS overrides.
case "$gpu_name" in
  *H100*|*H200*) peak=989.4 ;;
  *A100*) peak=312 ;;
  *) peak="" ;;
esac
peak="${RATEME_PEAK_TFLOPS:-$peak}"
say "gpu-check ($mode): device $device, $gpu_name, PyTorch $torch_version, bundle $(cat "$here/COMMIT" 2>/dev/null || echo unknown)"

table="$work/bench.md"
{
  echo "| model | input | batch | rateme f32 img/s | rateme bf16 img/s | PyTorch eager img/s | PyTorch AMP img/s | f32 / eager | bf16 / AMP | bf16 model TFLOP/s | bf16 MFU |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$table"
for entry in "${models[@]}"; do
  run="${entry%%:*}" size="${entry#*:}"
  say "bench $run at $size: rateme f32"
  f32="$(rateme_rate "$run" "$size" f32)"
  say "bench $run at $size: rateme bf16"
  bf16="$(rateme_rate "$run" "$size" bf16)"
  say "bench $run at $size: PyTorch eager and AMP"
  lines="$("$py" "$here/python/gpu_check_torch.py" "$run" "$size" "$batch" "$warmup" "$steps" "$torch_device" $threads 2>>"$log")"
  echo "$lines" >>"$log"
  eager_line="$(echo "$lines" | grep '"mode": "eager"')"
  amp_line="$(echo "$lines" | grep '"mode": "amp"')"
  eager="$(json_field "$eager_line" images_per_s)"
  amp="$(json_field "$amp_line" images_per_s)"
  flops="$(json_field "$eager_line" fwd_flops_per_image)"
  for value in "$f32" "$bf16" "$eager" "$amp"; do
    if ! awk -v v="$value" 'BEGIN { exit !(v + 0 > 0) }'; then
      say "error: $run: a measurement is missing or zero (rateme f32 '$f32', bf16 '$bf16', PyTorch '$eager', '$amp'); see $log"
      exit 1
    fi
  done
  tflops="$(awk -v r="$bf16" -v f="$flops" 'BEGIN { printf "%.3g", r * 3 * f / 1e12 }')"
  if [ -n "$peak" ]; then
    mfu="$(awk -v t="$tflops" -v p="$peak" 'BEGIN { printf "%.1f%%", 100 * t / p }')"
  else
    mfu="n/a"
  fi
  printf '| %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %s | %s | %s | %s |\n' "$run" "$size" "$batch" \
    "$f32" "$bf16" "$eager" "$amp" "$(ratio "$f32" "$eager")" "$(ratio "$bf16" "$amp")" "$tflops" "$mfu" >>"$table"
done
bench_s=$((SECONDS - started))

say "training: experiments/all_backbones.toml, $batches batches per backbone on synthetic data"
(
  cd "$work"
  "$here/run.sh" "$exp" --device "$device" --no-tracking \
    --set "batches=$batches" --set "eval_every=$eval_every" --set checkpoint_every=0 \
    --set "data.table=$work/data/ratings.csv" --set "data.synthetic=$synthetic" \
    --set "output_dir=$work/runs" "${run_sets[@]}"
) >>"$log" 2>&1 || { say "error: the all_backbones run failed; see $log"; tail -5 "$log" >&2; exit 1; }
results="$(find "$work/results" -name '*.md' | head -1)"
[ -n "$results" ] || { say "error: the all_backbones run wrote no results table; see $log"; exit 1; }
total_s=$((SECONDS - started))

{
  echo "# GPU check ($mode)"
  echo
  echo "$gpu_name, PyTorch $torch_version, device \`$device\`, bundle $(cat "$here/COMMIT" 2>/dev/null || echo unknown)."
  echo "Benchmarks ${bench_s} s, all in ${total_s} s."
  echo
  echo "## Training images/s, batch $batch ($warmup warm-up steps, $steps timed)"
  echo
  cat "$table"
  echo
  echo "## experiments/all_backbones.toml, $batches batches per backbone, synthetic data"
  echo
  cat "$results"
} >"$out/gpu-check.md"
cat "$out/gpu-check.md"
say "gpu-check: wrote $out/gpu-check.md in ${total_s} s"
