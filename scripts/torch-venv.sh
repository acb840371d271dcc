# Sourced by the scripts that make fixtures with PyTorch (the reference implementation).
# `torch_venv` sets $torch_python to the Python of a venv holding the pinned PyTorch (from PyPI,
# cached in ~/.cache/rateme/, about 5 GB with its CUDA libraries, about a minute to install).
# PyTorch 2.11.0 is the GPU machine's version. CI never runs these scripts: the fixtures they
# write are committed and the tests read those.
TORCH_VERSION=2.11.0
torch_venv() {
  source scripts/python-venv.sh
  local venv="${RATEME_TORCH_VENV:-$HOME/.cache/rateme/torch-venv-$TORCH_VERSION}"
  pinned_venv "$venv" "torch==$TORCH_VERSION"
  torch_python="$venv/bin/python"
}
