#!/usr/bin/env bash
# Assembles LibTorch 2.11.0 (the GPU machine's own version) from PyPI wheels alone into
# ~/.cache/rateme/libtorch-2.11 (or $1), for the `tch` build (scripts/tch-env.sh points cargo
# at it). From the torch wheel: include/ and libtorch_cpu and libc10 with the shared libraries
# they need (found by reading their ELF NEEDED entries); libtorch_cpu also needs the CUDA
# runtime and CUPTI even on CPU, taken from the two small NVIDIA wheels. The CUDA half
# (libtorch_cuda and the cuDNN/cuBLAS it needs, GBs) is left out: the runner loads it at run
# time when a CUDA device is asked for, from the GPU machine's own torch (scripts/gpu-bundle.sh).
# torch-sys links `-ltorch`; the wheel's libtorch.so only ties libtorch_cpu and libtorch_cuda
# together, so here libtorch.so is a linker script naming libtorch_cpu.so, and no binary needs
# libtorch.so (or the CUDA libraries) to start. libtorch_cuda.so is a stand-in (see below).
# Idempotent: does nothing when the tree is complete. Wheels are downloaded once into
# ~/.cache/rateme/downloads and removed once the tree is assembled.
set -euo pipefail
version=2.11.0
dest="${1:-$HOME/.cache/rateme/libtorch-2.11}"
# tree-version: the layout of the tree this script makes (2: with the CUDA stand-in).
if [ "$(cat "$dest/build-version" 2>/dev/null)" = "$version" ] &&
  [ "$(cat "$dest/tree-version" 2>/dev/null)" = "2" ] && [ -f "$dest/lib/libtorch_cpu.so" ]; then
  echo "LibTorch $version already at $dest"
  exit 0
fi
downloads="$HOME/.cache/rateme/downloads"
mkdir -p "$downloads"
echo "downloading torch==$version and the CUDA runtime wheels from PyPI (about 500 MB, once)"
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$downloads" \
  "torch==$version" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
tmp="$dest.partial"
rm -rf "$tmp"
mkdir -p "$tmp/lib"
python3 - "$downloads" "$tmp" "$version" <<'PY'
import pathlib, shutil, subprocess, sys, zipfile

downloads, out, version = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
torch_wheels = sorted(downloads.glob(f"torch-{version}-*.whl"))
nvidia_wheels = sorted(downloads.glob("nvidia_cuda_runtime-13.0.96-*.whl")) + sorted(
    downloads.glob("nvidia_cuda_cupti-13.0.85-*.whl"))
if not torch_wheels or len(nvidia_wheels) != 2:
    sys.exit(f"wheels missing in {downloads}")
# Every shared library in the wheels, by file name.
libs = {}
for wheel in torch_wheels[:1] + nvidia_wheels:
    z = zipfile.ZipFile(wheel)
    for name in z.namelist():
        base = pathlib.PurePosixPath(name).name
        if ".so" in base and ("/lib/" in name):
            libs.setdefault(base, (z, name))
    if wheel in torch_wheels:
        for name in z.namelist():
            if name.startswith("torch/include/") and not name.endswith("/"):
                target = out / "include" / pathlib.PurePosixPath(name).relative_to("torch/include")
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(name) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)

def needed(path):
    text = subprocess.run(["readelf", "-d", str(path)], check=True, capture_output=True,
                          text=True).stdout
    return [line.split("[", 1)[1].split("]", 1)[0] for line in text.splitlines()
            if "(NEEDED)" in line]

# The closure of NEEDED over the wheels' libraries, from the two LibTorch libraries the build
# links; anything else (glibc, libstdc++) is the system's.
todo, done = ["libtorch_cpu.so", "libc10.so"], set()
while todo:
    lib = todo.pop()
    if lib in done or lib not in libs:
        continue
    done.add(lib)
    z, name = libs[lib]
    target = out / "lib" / lib
    with z.open(name) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    todo.extend(needed(target))
for lib in ["libtorch_cpu.so", "libc10.so", "libcudart.so.13", "libcupti.so.13"]:
    if lib not in done:
        sys.exit(f"the wheels lacked {lib}")
(out / "lib" / "libtorch.so").write_text(
    "/* GNU ld script: LibTorch's CPU half (scripts/setup-libtorch.sh) */\n"
    "INPUT(AS_NEEDED(libtorch_cpu.so))\n")

print("libraries:", " ".join(sorted(done)))
PY
# burn-tch compiles its CUDA device path only when libtorch_cuda.so exists at build time
# (otherwise every CUDA tensor operation panics "No libtorch_cuda ... found"), and then keeps a
# reference to two of its functions alive in the SDK library. The real one needs cuDNN, cuBLAS
# and more (GBs), so here a stand-in defines those two (never called) and a marker the runner
# checks: the binaries start on machines without CUDA, and on the GPU machine the real
# libtorch_cuda.so (earlier on LD_LIBRARY_PATH, scripts/gpu-bundle.sh) is the one loaded.
cat >"$tmp/stand-in.cpp" <<'CPP'
// LibTorch's CUDA library stand-in for machines without CUDA (scripts/setup-libtorch.sh).
struct cublasContext;
namespace at { namespace cuda {
cublasContext *getCurrentCUDABlasHandle() { return nullptr; }
int warp_size() { return 0; }
} }
extern "C" int rateme_libtorch_cuda_stand_in() { return 1; }
CPP
c++ -shared -fPIC -O1 -Wl,-soname,libtorch_cuda.so -o "$tmp/lib/libtorch_cuda.so" "$tmp/stand-in.cpp"
rm "$tmp/stand-in.cpp"
echo "$version" > "$tmp/build-version"
echo "2" > "$tmp/tree-version"
rm -rf "$dest"
mv "$tmp" "$dest"
rm -f "$downloads"/torch-"$version"-*.whl "$downloads"/nvidia_cuda_*.whl
echo "LibTorch $version assembled at $dest ($(du -sh "$dest" | cut -f1))"
echo "build with: source scripts/tch-env.sh; cargo build \"\${RATEME_TCH_TARGETS[@]}\""
