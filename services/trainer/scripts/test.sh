#!/usr/bin/env bash
# Runs the trainer's pytest suite in its cached venv (see ensure-venv.sh); extra arguments go to
# pytest. With UNDERSTUDY_REPORT_DIR set, tests/conftest.py also writes unit-trainer.json there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="$(bash scripts/ensure-venv.sh)"
# Tiny models on a shared CPU: one thread per process, as OpenMP threads that spin-wait for busy
# cores make each training step tens of times slower.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec "$venv/bin/python" -m pytest "$@"
