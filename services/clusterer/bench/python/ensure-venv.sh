#!/usr/bin/env bash
# Creates (once) the virtual environment of the clusterer's quality harness from
# requirements.lock and prints its path. Cached under ${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/python,
# keyed by the lock's sha256, so every checkout and CI run with the same lock reuses it (the first
# install downloads about 60 MB from PyPI). Progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lock="$here/requirements.lock"
python="${UNDERSTUDY_PYTHON:-python3}"
sha="$(sha256sum "$lock" | cut -c1-16)"
root="${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/python"
venv="$root/clusterer-quality-$sha"

mkdir -p "$root"
# One installer at a time: parallel runs would otherwise race on the same directory.
exec 9>"$venv.lock"
flock 9

# The marker is written last, so an interrupted install is detected and redone.
if [[ ! -f "$venv/.complete" ]]; then
  rm -rf "$venv"
  echo "clusterer quality venv: creating $venv with $("$python" --version)" >&2
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off --quiet \
    --no-deps --only-binary=:all: -r "$lock" >&2
  touch "$venv/.complete"
  echo "clusterer quality venv: ready" >&2
fi

echo "$venv"
