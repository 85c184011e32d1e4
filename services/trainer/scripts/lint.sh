#!/usr/bin/env bash
# ruff lint and format check of the trainer's Python code, in its cached venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="$(bash scripts/ensure-venv.sh)"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
