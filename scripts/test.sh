#!/usr/bin/env bash
# The test command (what CI runs): formatting, lints, every test of the workspace, then the
# MLflow tests against a real server (MLflow installed from PyPI into a cached venv) and the
# ranker's browser test (Debian's chromium, playwright-core from npm).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo fmt --all -- --check
cargo build "${RATEME_TARGETS[@]}"
cargo clippy "${RATEME_TARGETS[@]}" -- -D warnings
cargo test "${RATEME_TARGETS[@]}"
bash scripts/test-mlflow.sh
RATEME_NO_BUILD=1 bash scripts/test-ranker-browser.sh
