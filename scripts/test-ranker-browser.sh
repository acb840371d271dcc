#!/usr/bin/env bash
# Browser test of `runner rank`: generates a folder of small PNGs (and one broken file), starts
# the ranker on a free port, and drives the pages in headless Chromium (Debian's `chromium` with
# playwright-core; scripts/browser-env.sh installs both when missing): votes by click and by
# ←/→, skip (↓), undo (Backspace), the rankings view, best of four (key 1), exclude/include
# and the rankings CSV download. Closes with "browser: N passed, M failed".
# Usage: bash scripts/test-ranker-browser.sh [--screenshot]   (--screenshot: writes docs/ranker.png)
# RATEME_NO_BUILD=1 skips the cargo build (when the caller has just built).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

extra=()
for arg in "$@"; do
  case "$arg" in
    --screenshot) extra+=(--screenshot "$PWD/docs/ranker.png") ;;
    *) echo "usage: bash scripts/test-ranker-browser.sh [--screenshot]" >&2; exit 2 ;;
  esac
done

source scripts/browser-env.sh
[ "${RATEME_NO_BUILD:-}" = 1 ] || cargo build "${RATEME_TARGETS[@]}"
runner="$CARGO_TARGET_DIR/debug/runner"

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill -- -"$server" 2>/dev/null || kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

node scripts/test-ranker-browser.mjs make-images "$work/discs" 12

# The server in its own process group (killed whole at exit), run from the temporary folder so
# that nothing it might write lands in the work tree.
(cd "$work" && exec setsid "$runner" rank "$work/discs" --port 0 >"$work/server.log" 2>&1) &
server=$!

url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's|^ranker: \(http://127\.0\.0\.1:[0-9]*/\).*|\1|p' "$work/server.log" | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "the ranker did not print its address (ranker: http://127.0.0.1:<port>/); its output:" >&2
  cat "$work/server.log" >&2
  echo "browser: 0 passed, 1 failed"
  exit 1
fi
echo "ranker at $url"

# Prints the address a ranker logged to $1 (waits for it), or fails.
address_of() {
  local log=$1 pid=$2 found=""
  for _ in $(seq 1 600); do
    found=$(sed -n 's|^ranker: \(http://127\.0\.0\.1:[0-9]*/\).*|\1|p' "$log" | head -n 1)
    [ -n "$found" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$found" ] && echo "$found"
}

rc=0
node scripts/test-ranker-browser.mjs run "$url" "${extra[@]}" || rc=$?
if [ "$rc" != 0 ]; then
  echo "--- server output (last 40 lines) ---" >&2
  tail -n 40 "$work/server.log" >&2
fi
kill -- -"$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true

# A model prior: train a tiny model on the discs (target: the disc's number), then rank a fresh
# session starting from its scores.
{
  echo "path,target"
  for f in "$work"/discs/disc-*.png; do
    n=$(basename "$f" .png); echo "$f,${n#disc-}"
  done
} >"$work/discs.csv"
cat >"$work/prior.toml" <<EOF
name = "prior"
results_dir = "$work/results"
[defaults]
batches = 6
eval_every = 3
batch_size = 4
output_dir = "$work/runs"
head = { plugin = "linear" }
[defaults.data]
table = "$work/discs.csv"
[[runs]]
name = "tiny"
backbone = { plugin = "smallconv", variant = "tiny", options = { input_size = 24 } }
EOF
(cd "$work" && "$runner" "$work/prior.toml" >"$work/train.log" 2>&1) || {
  echo "training the prior's model failed:" >&2; tail -n 20 "$work/train.log" >&2; exit 1; }
(cd "$work" && exec setsid "$runner" rank "$work/discs" --port 0 --db "$work/prior.sqlite" \
  --prior "$work/runs/tiny" >"$work/prior-server.log" 2>&1) &
server=$!
prior_url=$(address_of "$work/prior-server.log" "$server") || {
  echo "the ranker with --prior did not start; its output:" >&2; cat "$work/prior-server.log" >&2
  exit 1; }
node scripts/test-ranker-browser.mjs prior "$prior_url" 12 || rc=$?
exit "$rc"
