# Sourced by the scripts that make fixtures with PyTorch (the reference implementation).
# `torch_venv` sets $torch_python to the Python of a venv holding the pinned PyTorch and the
# reference model libraries (from PyPI, cached in ~/.cache/rateme/, about 5 GB with PyTorch's CUDA
# libraries, a few minutes to install). One package set for every fixture script, so they share
# one venv. PyTorch 2.11.0 is the GPU machine's version. timm, transformers and open-clip-torch
# (the ConvNeXt/ViT/CLIP references of backbone_fixtures.py) accept it: installed together with
# the torch pin, pip keeps torch 2.11.0 (checked with `pip install --dry-run`). CI never runs these
# scripts: the fixtures they write are committed and the tests read those.
TORCH_VERSION=2.11.0
TORCH_PACKAGES=(
  "torch==$TORCH_VERSION"
  torchvision==0.26.0
  efficientnet-pytorch==0.7.1
  safetensors==0.8.0
  numpy==2.4.6
  pillow==13.0.0
  scikit-image==0.26.0
  timm==1.0.31
  transformers==5.24.0
  open-clip-torch==3.3.0
)
torch_venv() {
  source scripts/python-venv.sh
  local venv="${RATEME_TORCH_VENV:-$HOME/.cache/rateme/torch-venv-$TORCH_VERSION}"
  pinned_venv "$venv" "${TORCH_PACKAGES[@]}"
  torch_python="$venv/bin/python"
}
