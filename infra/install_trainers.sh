#!/usr/bin/env bash
# Create the venvs with the trainers' own data loaders, CPU only, for bench/trainer_loaders.py.
# Never installs into the project's venv (the trainers pin their own transformers/datasets), and
# one venv per trainer: llamafactory 0.9.5 pins datasets<=4.0.0 while ms-swift 4.6 imports
# datasets.features.Json, which only newer datasets have.
#   usage: infra/install_trainers.sh [DIR]   -> DIR/llamafactory, DIR/ms-swift (default ~/.cache/sftforge/trainers)
set -euo pipefail
DIR="${1:-${TRAINERS_DIR:-$HOME/.cache/sftforge/trainers}}"
PY="${PYTHON:-python3}"

venv() {  # venv NAME PIP_ARGS...: create DIR/NAME if needed and pip install into it
  local name="$1"; shift
  [ -x "$DIR/$name/bin/python" ] || "$PY" -m venv "$DIR/$name"
  "$DIR/$name/bin/python" -m pip install --quiet --upgrade pip
  "$DIR/$name/bin/python" -m pip install --quiet "$@"
}

# torch pinned in every pip call: a range left to the trainers would pull the newest CUDA build.
# llamafactory imports torchaudio (data/mm_plugin.py) and torchvision at import time, and PyPI's
# torchaudio stops at 2.11, whose library fails to load beside torch 2.13; so the matching trio
# 2.9.1 / 0.24.1 / 2.9.x (a larger download; CPU is all this check uses).
LF_TORCH=("torch==2.9.1" "torchvision==0.24.1" "torchaudio==2.9.*")
venv llamafactory "${LF_TORCH[@]}"
venv llamafactory "${LF_TORCH[@]}" llamafactory

# ms-swift's data code needs neither torchvision nor torchaudio: the CPU torch wheel is enough.
venv ms-swift "torch==2.13.0"
venv ms-swift "torch==2.13.0" ms-swift
# PyPI's torchvision, if a dependency pulled it, fails to import beside that torch wheel.
"$DIR/ms-swift/bin/python" -m pip uninstall --quiet -y torchvision torchaudio 2>/dev/null || true

for name in llamafactory ms-swift; do
  "$DIR/$name/bin/python" - "$name" <<'PY'
import importlib.metadata as md, sys
have = [n for n in ("torch", "llamafactory", "ms-swift", "transformers", "datasets")
        if any(d.metadata["Name"].lower().replace("_", "-") == n for d in md.distributions())]
print(sys.argv[1] + ": " + ", ".join(f"{n}=={md.version(n)}" for n in have))
PY
done
