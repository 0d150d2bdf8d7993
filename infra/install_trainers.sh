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
# torch first, pinned: a range left for llamafactory/ms-swift to resolve would pull the newest
# CUDA build. llamafactory imports torchaudio (data/mm_plugin.py) and torchvision at import
# time, and PyPI's torchaudio stops at 2.11, whose library fails to load beside torch 2.13; so
# the matching trio 2.9.1 / 0.24.1 / 2.9.x (a larger download; CPU is all this check uses).
TORCH="torch==2.9.1"
"$VENV/bin/python" -m pip install --quiet "$TORCH" "torchvision==0.24.1"
"$VENV/bin/python" -m pip install --quiet "$TORCH" "torchvision==0.24.1" "torchaudio==2.9.*"
"$VENV/bin/python" -m pip install --quiet "$TORCH" "torchvision==0.24.1" "torchaudio==2.9.*" \
  llamafactory ms-swift
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("torch", "torchaudio", "llamafactory", "ms-swift", "transformers", "datasets"):
    print(f"{name}=={md.version(name)}")
PY
