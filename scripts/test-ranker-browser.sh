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

rc=0
node scripts/test-ranker-browser.mjs run "$url" "${extra[@]}" || rc=$?
if [ "$rc" != 0 ]; then
  echo "--- server output (last 40 lines) ---" >&2
  tail -n 40 "$work/server.log" >&2
fi
exit "$rc"
