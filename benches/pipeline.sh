#!/usr/bin/env bash
# Images/s of the training image pipeline on real photographs (60 JPEGs of 500-1500 px made
# from scikit-image's photographs, cached in ~/.cache/rateme/pipeline-photos), on the same
# threads: rateme (core/pixels/benches/pipeline.rs, one thread per worker) and RateMeAI's
# PIL + torchvision pipeline (benches/pipeline_torch.py, DataLoader workers), one after the
# other, alternating, in one run, with the ratios.
#   bash benches/pipeline.sh [rounds] [passes per run] [threads]
# RATEME_BENCH_PROFILE picks the cargo profile (default dev: opt-level 3, what the trainer and
# the other scripts build).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/torch-venv.sh
torch_venv
reps="${1:-5}" passes="${2:-2}" threads="${3:-2}"
photos="$HOME/.cache/rateme/pipeline-photos"
"$torch_python" benches/pipeline_torch.py photos "$photos"
profile="${RATEME_BENCH_PROFILE:-dev}"
cargo build --quiet --profile "$profile" -p rateme-pixels --bench pipeline
cores=$(getconf _NPROCESSORS_ONLN)
export RAYON_NUM_THREADS="$threads" OMP_NUM_THREADS=1
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Rounds alternate the two sides (one warm-up and one timed run each), so load from other
# processes on a shared machine falls on both alike; the table has the medians over rounds and
# the range of the per-round ratios.
results=""
for round in $(seq "$reps"); do
  out=$(cargo bench --quiet --profile "$profile" -p rateme-pixels --bench pipeline -- \
    "$photos" "$threads" 1 "$passes")
  results+=$(awk -v r="$round" '$2 == "images_per_s" {print "ours", $1, $3, r, $5}' <<<"$out")$'\n'
  out=$("$torch_python" benches/pipeline_torch.py run "$photos" "$threads" 1 "$passes")
  results+=$(awk -v r="$round" '$2 == "images_per_s" {print "theirs", $1, $3, r}' <<<"$out")$'\n'
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
median() { sort -g | awk '{v[NR] = $1} END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
rates() { awk -v s="$1" -v k="$2" '$1 == s && $2 == k {print $3}' <<<"$results"; }
row() {
  local a b spread
  a=$(rates ours "$2" | median) b=$(rates theirs "$3" | median)
  spread=$(awk -v x="$2" -v y="$3" '$1 == "ours" && $2 == x {a[$4] = $3}
    $1 == "theirs" && $2 == y {b[$4] = $3}
    END { lo = 1e9; hi = 0; for (r in a) { q = a[r] / b[r]; if (q < lo) lo = q; if (q > hi) hi = q }
          printf "%.1f–%.1f", lo, hi }' <<<"$results")
  printf '| %s | %.1f | %.1f | %s× | %s× |\n' "$1" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", a / b }')" "$spread"
}
images=$(awk '$1 == "ours" && $2 == "full" {print $5; exit}' <<<"$results")
printf '%s threads (rateme: worker threads; RateMeAI: DataLoader num_workers=%s, batch 4, one torch thread each), %s images a run (%s photos × %s), median of %s alternating rounds; %s cores, load average %s before, %s after; cargo profile %s.\n\n' \
  "$threads" "$threads" "$images" "$(ls "$photos" | grep -c '\.jpg$')" "$passes" "$reps" \
  "$cores" "$load_before" "$load_after" "$profile"
printf '| measurement | rateme img/s | RateMeAI img/s | rateme / RateMeAI | per-round ratios |\n|---|---:|---:|---:|---:|\n'
row "full training transform (decode, pad, Resize 456, augment, normalise)" full full
row "decode only: rateme (DCT-scaled, longer side ≥ 456) vs PIL full decode" decode456 decodefull
row "decode only: rateme (DCT-scaled) vs PIL draft (DCT-scaled)" decode456 decodedraft
row "decode only: both full size" decodefull decodefull
row "cached epoch: rateme augment from prepared 456² images vs RateMeAI full transform" cached full
row "cached epoch: both augment from prepared 456² images (torchvision on tensors)" cached cached
