#!/usr/bin/env bash
# The sharded sweep through a real Slurm cluster (part of the test command):
#  1. installs Debian's Slurm and munge (the .debs cached in ~/.cache/rateme/apt) and starts a
#     one-node cluster here: munged, slurmctld and slurmd as root, with a configuration of its
#     own in a scratch folder (no cgroups: proctrack/linuxproc, task/none), two CPUs and two
#     stand-in GPUs, so the example script's `--gres=gpu:1` is submitted unchanged;
#  2. submits the demo sweep (shortened with --set) as examples/slurm/sweep.sbatch, an array of
#     two shards, with `sbatch --wait`; once shard 1 has a checkpoint, cancels that task with
#     `scancel` (SIGTERM: it checkpoints and stops) and resubmits it alone (`--array=1`), which
#     must resume from the checkpoint;
#  3. `runner report` in the shared folder must equal the same sweep trained in one process
#     elsewhere, in every column that does not measure time (and the loss plot byte for byte),
#     and list the cancelled run as unfinished before the resubmission.
# RATEME_NO_BUILD=1 skips the cargo build (the test command has just built).
# RATEME_SLURM_KEEP=DIR keeps the logs and results.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
source scripts/env.sh
[ "${RATEME_NO_BUILD:-}" = 1 ] || cargo build --quiet "${RATEME_TARGETS[@]}"
runner="$CARGO_TARGET_DIR/debug/runner"

# 1. Slurm and munge from Debian, once per machine (the packages cached for the next one).
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt_cache="$HOME/.cache/rateme/apt"
  mkdir -p "$apt_cache/partial"
  echo "installing slurm-wlm and munge from Debian (cached in $apt_cache)" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dir::Cache::archives="$apt_cache" slurm-wlm munge >/dev/null
fi

scratch="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$scratch/slurmd.pid" ] && kill "$(cat "$scratch/slurmd.pid")" 2>/dev/null || true
  [ -f "$scratch/slurmctld.pid" ] && kill "$(cat "$scratch/slurmctld.pid")" 2>/dev/null || true
  [ -f "$scratch/munged.pid" ] && kill "$(cat "$scratch/munged.pid")" 2>/dev/null || true
  sleep 1
  # RATEME_SLURM_KEEP=DIR keeps the job logs, results and daemon logs there, for a look.
  if [ -n "${RATEME_SLURM_KEEP:-}" ]; then
    mkdir -p "$RATEME_SLURM_KEEP"
    cp -r "$scratch"/shared/logs "$scratch"/shared/results "$scratch"/*.log "$RATEME_SLURM_KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() {
  echo "error: test-slurm: $*" >&2
  for log in "$scratch"/slurmctld.log "$scratch"/slurmd.log "$scratch"/shared/logs/*; do
    [ -f "$log" ] && { echo "--- $log" >&2; tail -n 30 "$log" >&2; }
  done
  exit 1
}

# munged, with its own key, socket and state in the scratch folder.
mkdir -p "$scratch/munge" "$scratch/state" "$scratch/spool"
chmod 700 "$scratch/munge"
dd if=/dev/urandom of="$scratch/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$scratch/munge/munge.key"
socket="$scratch/munge/munge.socket"
munged --force --key-file="$scratch/munge/munge.key" --socket="$socket" \
  --pid-file="$scratch/munged.pid" --log-file="$scratch/munged.log" \
  --seed-file="$scratch/munge/seed" || fail "munged did not start"

host="$(hostname -s)"
memory=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048))
cat >"$scratch/slurm.conf" <<CONF
ClusterName=rateme-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/slurmctld.pid
SlurmdPidFile=$scratch/slurmd.pid
SlurmctldLogFile=$scratch/slurmctld.log
SlurmdLogFile=$scratch/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=30
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=$memory Gres=gpu:2 State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# Two stand-in GPUs: Slurm counts them by their device files; plain files stand in (nothing
# opens them: the runs are on CPU, and task/none binds no devices).
mkdir -p "$scratch/dev"
touch "$scratch/dev/nvidia0" "$scratch/dev/nvidia1"
echo "NodeName=$host Name=gpu File=$scratch/dev/nvidia[0-1]" >"$scratch/gres.conf"
export SLURM_CONF="$scratch/slurm.conf"
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
for _ in $(seq 60); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || fail "the node is not idle after 60 s (state: ${state:-none})"
echo "slurm: one-node cluster up ($(sinfo --version), node $host idle)"

# 2. The demo sweep, shortened, as an array of two shards in a shared folder.
settings=(--set batches=300 --set checkpoint_every=50 --set eval_every=50)
shared="$scratch/shared"
mkdir -p "$shared/logs"
export RATEME_RUNNER="$runner" RATEME_SHARDS=2
# The example's own directives, but one CPU and 2 GiB a task so that both shards run at once on
# this two-core machine (command-line options win over #SBATCH lines).
submit() {
  sbatch --chdir="$shared" --wait --cpus-per-task=1 --mem=2G "$@" \
    "$repo/examples/slurm/sweep.sbatch" "${settings[@]}"
}
submit >"$scratch/array.out" 2>&1 &
array_pid=$!
pids+=("$array_pid")
for _ in $(seq 300); do
  grep -q "Submitted batch job" "$scratch/array.out" 2>/dev/null && break
  sleep 0.2
done
job=$(awk '/Submitted batch job/ {print $4}' "$scratch/array.out")
[ -n "$job" ] || fail "sbatch did not submit: $(cat "$scratch/array.out")"
# Shard 1 of 2 holds smallconv-tiny (the slice of a name is fixed: FNV-1a of it, mod 2).
ckpt=$(echo "$shared"/runs/demo+set-*/smallconv-tiny/checkpoint/state.json)
together=0
for _ in $(seq 600); do
  running=$(squeue -h -j "$job" -t RUNNING 2>/dev/null | wc -l)
  [ "$running" -ge 2 ] && together=1
  ckpt=$(echo "$shared"/runs/demo+set-*/smallconv-tiny/checkpoint/state.json)
  [ -f "$ckpt" ] && break
  sleep 0.5
done
[ -f "$ckpt" ] || fail "shard 1 wrote no checkpoint within 5 minutes"
[ "$together" = 1 ] || fail "the two shards never ran at the same time"
scancel "${job}_1"
echo "slurm: cancelled task ${job}_1 after its first checkpoint"
wait "$array_pid" && fail "sbatch --wait reported success although task 1 was cancelled" || true
queued=$(squeue -h -j "$job" 2>/dev/null | wc -l)
[ "$queued" = 0 ] || fail "the array is still queued after sbatch --wait returned"
report() { (cd "$shared" && "$runner" report "${settings[@]}" >/dev/null 2>"$scratch/report.err") || fail "runner report: $(cat "$scratch/report.err")"; }
report
csv=$(echo "$shared"/results/demo+set-*.csv)
grep -q '^smallconv-small,ok,' "$csv" || fail "shard 0's run is not in the report: $(cat "$csv")"
grep -q '^smallconv-tiny,unfinished: checkpoint at batch ' "$csv" ||
  fail "the cancelled run is not listed as unfinished: $(cat "$csv")"

# The cancelled task resubmitted alone: it must resume, not start over.
submit --array=1 >"$scratch/resubmit.out" 2>&1 || fail "the resubmitted task failed: $(cat "$scratch/resubmit.out")"
resubmitted=$(awk '/Submitted batch job/ {print $4}' "$scratch/resubmit.out")
grep -h "resuming from checkpoint" "$shared"/logs/rateme-sweep-"${resubmitted}"_1.log | grep -q "run=smallconv-tiny" ||
  fail "the resubmitted task did not resume from the checkpoint"
report

# 3. The same sweep in one process, elsewhere: equal in every column but time.
single="$scratch/single"
mkdir -p "$single"
(cd "$single" && "$runner" "${settings[@]}" >/dev/null 2>"$scratch/single.err") || fail "single-machine sweep: $(cat "$scratch/single.err")"
python3 - "$csv" "$(echo "$single"/results/demo+set-*.csv)" <<'PY' || fail "the merged report differs from the single-machine sweep"
import csv, sys
timed = {"wall_s", "images_per_s"}
def rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k not in timed} for r in csv.DictReader(f)]
merged, single = rows(sys.argv[1]), rows(sys.argv[2])
if merged != single or len(merged) != 2:
    print("merged:", merged, "\nsingle:", single, file=sys.stderr)
    sys.exit(1)
PY
cmp -s "$(echo "$shared"/results/demo+set-*.svg)" "$(echo "$single"/results/demo+set-*.svg)" ||
  fail "the merged loss plot differs from the single-machine sweep's"
echo "slurm: 2-shard array, one task cancelled and resubmitted (resumed from its checkpoint): report equals the single-machine sweep"
