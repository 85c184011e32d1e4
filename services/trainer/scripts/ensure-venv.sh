#!/usr/bin/env bash
# Creates (once) the trainer's virtual environment from requirements.lock and prints its path.
# The venv is cached under ${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/python, keyed by the lock's
# sha256, so every checkout and CI run with the same lock reuses it. Progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$here/requirements.lock"
python="${UNDERSTUDY_PYTHON:-python3}"
sha="$(sha256sum "$lock" | cut -c1-16)"
root="${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/python"
venv="$root/trainer-$sha"

mkdir -p "$root"
# One installer at a time: parallel test runs would otherwise race on the same directory.
exec 9>"$venv.lock"
flock 9

# The marker is written last, so an interrupted install is detected and redone.
if [[ ! -f "$venv/.complete" ]]; then
  rm -rf "$venv"
  echo "trainer venv: creating $venv with $("$python" --version) (first install downloads ~3 GB)" >&2
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
    --no-deps --only-binary=:all: -r "$lock" >&2
  touch "$venv/.complete"
  echo "trainer venv: ready" >&2
fi

echo "$venv"
