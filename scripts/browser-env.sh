# Headless Chromium for the browser scripts (sourced, not run; after scripts/env.sh):
# Debian's `chromium` (apt) and playwright-core (npm, pinned) in ~/.cache/rateme/node, each
# installed when missing. Exports:
#   RATEME_CHROMIUM   the browser (give it to playwright's `executablePath`)
#   RATEME_NODE_DIR   where playwright-core is installed: a script outside that folder loads it
#                     with createRequire(`${RATEME_NODE_DIR}/package.json`)("playwright-core")
# Playwright must not download a browser of its own (that fails here): only playwright-core.
RATEME_PLAYWRIGHT_VERSION=1.64.1
export RATEME_CHROMIUM="${RATEME_CHROMIUM:-/usr/bin/chromium}"
export RATEME_NODE_DIR="$HOME/.cache/rateme/node"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -x "$RATEME_CHROMIUM" ]; then
  echo "installing chromium (Debian package)" >&2
  # A fresh machine may have no package lists yet: update once, then try again.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || {
    apt-get update -q >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  }
fi
command -v node >/dev/null || { echo "browser-env: node is needed (Debian package nodejs)" >&2; return 1; }
if ! grep -qs "\"version\": \"$RATEME_PLAYWRIGHT_VERSION\"" \
    "$RATEME_NODE_DIR/node_modules/playwright-core/package.json"; then
  echo "installing playwright-core $RATEME_PLAYWRIGHT_VERSION (npm) into $RATEME_NODE_DIR" >&2
  mkdir -p "$RATEME_NODE_DIR"
  (
    cd "$RATEME_NODE_DIR" &&
      { [ -f package.json ] || npm init -y >/dev/null; } &&
      npm install --silent --no-audit --no-fund "playwright-core@$RATEME_PLAYWRIGHT_VERSION" >/dev/null
  )
fi
