#!/usr/bin/env bash
# Assembles a CPU LibTorch 2.9.0 (what tch 0.22 / burn-tch 0.22.1 expect) from PyPI wheels
# alone, into ~/.cache/rateme/libtorch (or $1), for `--features rateme/tch`.
# From the torch wheel: include/ and lib/{libtorch_cpu,libtorch,libc10,libgomp}; libtorch_cpu
# also needs libcudart.so.12 and libcupti.so.12, taken from the two NVIDIA runtime wheels.
# Idempotent: does nothing when the tree is already complete.
set -euo pipefail
dest="${1:-$HOME/.cache/rateme/libtorch}"
if [ -f "$dest/build-version" ] && [ -f "$dest/lib/libtorch_cpu.so" ]; then
  echo "LibTorch $(cat "$dest/build-version") already at $dest"
  echo "build with: LIBTORCH=$dest cargo build --workspace --features rateme/tch"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" \
  torch==2.9.0 nvidia-cuda-runtime-cu12==12.8.90 nvidia-cuda-cupti-cu12==12.8.90
tmp="$dest.partial"
rm -rf "$tmp"
mkdir -p "$tmp/lib"
python3 - "$work" "$tmp" <<'PY'
import pathlib, shutil, sys, zipfile
work, out = map(pathlib.Path, sys.argv[1:])
wanted_libs = {"libtorch_cpu.so", "libtorch.so", "libc10.so", "libgomp.so.1", "libcudart.so.12", "libcupti.so.12"}
for wheel in work.glob("*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            p = pathlib.PurePosixPath(name)
            if name.startswith("torch/include/") and not name.endswith("/"):
                target = out / "include" / p.relative_to("torch/include")
            elif p.name in wanted_libs:
                target = out / "lib" / p.name
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(name) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
missing = [l for l in wanted_libs if not (out / "lib" / l).exists()]
if missing:
    sys.exit(f"wheels lacked {missing}")
PY
echo "2.9.0" > "$tmp/build-version"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "LibTorch 2.9.0 assembled at $dest"
echo "build with: LIBTORCH=$dest cargo build --workspace --features rateme/tch"
echo "run with:   LD_LIBRARY_PATH=$dest/lib runner ... --device tch-cpu"
