# Vantage: `make demo` and `make test` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BUNDLE := src/vantage/web/static/dist/viewer.js

.PHONY: setup demo test lint bench services clean

setup: $(STAMP) $(BUNDLE)

$(STAMP): pyproject.toml scripts/setup.sh webui/package.json webui/package-lock.json
	PYTHON=$(PYTHON) scripts/setup.sh
	touch $(STAMP)

# setup.sh builds the viewer bundle; this rebuilds it when its sources change or it is gone.
$(BUNDLE): webui/build.mjs $(wildcard webui/src/*) | $(STAMP)
	cd webui && npm run --silent build

demo: setup
	$(BIN)/vantage demo

test: setup services lint
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: setup services
	$(BIN)/python bench/jobs_throughput.py
	$(BIN)/python bench/frames_throughput.py
	$(BIN)/python bench/sfm_matching.py
	$(BIN)/python bench/splat_train_step.py
	$(BIN)/python bench/reconstruct_e2e.py
	$(BIN)/python bench/compress_formats.py

services:
	scripts/ensure-services.sh

clean:
	rm -rf $(VENV) .demo .vantage .mypy_cache .ruff_cache .pytest_cache
