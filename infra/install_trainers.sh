#!/usr/bin/env bash
# Create a separate venv with the trainers' own data loaders (LLaMA-Factory, ms-swift), CPU only,
# for bench/trainer_loaders.py. Never installs into the project's venv: the trainers pin their own
# transformers/datasets versions.
#   usage: infra/install_trainers.sh [VENV_DIR]     (default /work/trainers-venv)
set -euo pipefail
VENV="${1:-${TRAINERS_VENV:-/work/trainers-venv}}"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch first, pinned to the CPU build: a range left for llamafactory/ms-swift to resolve would
# pull a multi-GB CUDA build.
"$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
"$VENV/bin/python" -m pip install --quiet "torch==2.13.0" llamafactory ms-swift
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("torch", "llamafactory", "ms-swift", "transformers", "datasets"):
    print(f"{name}=={md.version(name)}")
PY
