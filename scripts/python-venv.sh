# Sourced by scripts that need pinned Python packages from PyPI.
# `pinned_venv DIR PKG==VER...` makes DIR a venv holding exactly those packages (once: a venv with
# the stamp file is reused; a half-installed one is rebuilt) and prints nothing on stdout.
pinned_venv() {
  local venv="$1"
  shift
  local stamp="$venv/.rateme-installed"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$*" ]; then
    echo "installing $* into $venv (once)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
    echo "$*" > "$stamp"
  fi
}
