# casework — two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
SHARED ?= $(or $(CASEWORK_SHARED),../shared)
# The tests find the shared folder through CASEWORK_SHARED: `make test SHARED=...` hands it on (absolute, since
# tests change directory), when it exists; otherwise they look beside the checkout and skip, with the reason, and
# conformance runs the suite's own scenarios alone (naming a missing folder would fail `make test` there).

.PHONY: run test lint conformance bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/casework demo

test: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(if $(wildcard $(SHARED)),,@echo "note: no shared folder at $(SHARED): its CMMN corpus is not run, and the tests\
	 that need it skip (set CASEWORK_SHARED, or make test SHARED=...)")
	$(BIN)/casework conformance $(if $(wildcard $(SHARED)),$(SHARED)/cmmn/scenarios )tests/conformance/scenarios
	$(if $(wildcard $(SHARED)),CASEWORK_SHARED=$(abspath $(SHARED)) )$(BIN)/python -m pytest -q --numprocesses=auto --maxprocesses=4

conformance: $(STAMP_RUN)
	$(BIN)/casework conformance $(if $(wildcard $(SHARED)),$(SHARED)/cmmn/scenarios )tests/conformance/scenarios

lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP_TEST)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/casework bench

clean:
	rm -rf $(VENV) build *.egg-info
