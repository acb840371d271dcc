#!/usr/bin/env bash
# Builds the runner, the SDK and every plugin with `tch` and gathers them, stripped, into one
# relocatable folder for a machine without Rust (the GPU machine): the runner, the shared
# libraries it and the plugins need (the SDK, Rust's std), every plugin library, the experiment
# files, and `run.sh`, which points the runner at that machine's own LibTorch (a CUDA build of
# PyTorch 2.11 in a Python environment) and runs it; plus `<dest>.tar.xz`, the folder packed to
# travel (64 MiB at most go to the GPU machine; the folder itself is about 92 MiB).
#   bash scripts/gpu-bundle.sh [dest]        (default: target-tch/gpu-bundle)
# On the other machine:   tar -xJf gpu-bundle.tar.xz && gpu-bundle/run.sh [runner arguments]
#   e.g.  gpu-bundle/run.sh gpu-bundle/experiments/demo.toml --device cuda
#   or the whole device check:  gpu-bundle/gpu-check.sh (scripts/gpu-check.sh)
# The CPU stand-in of libtorch_cuda.so (scripts/setup-libtorch.sh) goes in `cpu/`, last on the
# search path: a PyTorch without CUDA libraries still runs `tch-cpu`.
# run.sh finds torch with `python3 -c 'import torch'` (or $RATEME_PYTHON), or takes the folders
# from $RATEME_TORCH_LIB (torch/lib) and $RATEME_NVIDIA_LIBS (colon-separated nvidia/*/lib).
# The dev profile is the one built (opt-level 3 everywhere, within ~5% of release; Cargo.toml),
# so the bundle is the build the tests ran.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup-libtorch.sh >/dev/null
source scripts/tch-env.sh
cargo build "${RATEME_TCH_TARGETS[@]}"
out="$CARGO_TARGET_DIR/debug"
dest="${1:-$CARGO_TARGET_DIR/gpu-bundle}"
tmp="$dest.partial"
rm -rf "$tmp"
mkdir -p "$tmp/experiments"
cp "$out/runner" "$tmp/"
cp "$out"/*.so "$tmp/"
std_lib="$(rustc --print target-libdir)"
cp "$std_lib"/libstd-*.so "$tmp/"
cp experiments/*.toml "$tmp/experiments/"
# The device check and its PyTorch side (scripts/gpu-check.sh), and what was built.
cp scripts/gpu-check.sh "$tmp/"
chmod +x "$tmp/gpu-check.sh"
mkdir -p "$tmp/python"
cp scripts/gpu_check_torch.py scripts/head_fixtures.py scripts/fixture_io.py "$tmp/python/"
git rev-parse --short HEAD 2>/dev/null | tr -d '\n' >"$tmp/COMMIT" || true
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then echo "+changes" >>"$tmp/COMMIT"; fi
mkdir -p "$tmp/cpu"
cp "$LIBTORCH/lib/libtorch_cuda.so" "$tmp/cpu/"
strip --strip-unneeded "$tmp/runner" "$tmp"/*.so
cat >"$tmp/run.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the bundled runner against this machine's LibTorch 2.11 (torch/lib and the NVIDIA
# libraries of a CUDA build of PyTorch). Arguments go to the runner.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -z "${RATEME_TORCH_LIB:-}" ]; then
  py="${RATEME_PYTHON:-python3}"
  site="$("$py" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')" || {
    echo "run.sh: no torch in $py; set RATEME_PYTHON to a Python with PyTorch 2.11, or RATEME_TORCH_LIB" >&2
    exit 1
  }
  RATEME_TORCH_LIB="$site/torch/lib"
  RATEME_NVIDIA_LIBS="$(find "$site/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | sort | paste -sd: -)"
fi
export LD_LIBRARY_PATH="$here:$RATEME_TORCH_LIB${RATEME_NVIDIA_LIBS:+:$RATEME_NVIDIA_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}:$here/cpu"
exec "$here/runner" "$@"
EOF
chmod +x "$tmp/run.sh"
rm -rf "$dest"
mv "$tmp" "$dest"
tar -C "$(dirname "$dest")" -cf - "$(basename "$dest")" | xz -T0 -6 >"$dest.tar.xz.partial"
mv "$dest.tar.xz.partial" "$dest.tar.xz"
size=$(stat -c %s "$dest.tar.xz")
echo "bundle at $dest ($(du -sm "$dest" | cut -f1) MiB), packed: $dest.tar.xz ($((size / 1048576)) MiB)"
if [ "$size" -gt $((64 * 1048576)) ]; then
  echo "error: $dest.tar.xz is over 64 MiB, what travels to the GPU machine" >&2
  exit 1
fi
