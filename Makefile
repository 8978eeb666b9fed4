# Two set-up commands, both from a clean clone: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help setup env redis-binary run test test-tools check lint types pytest bench perf-gate clean

help:
	@echo "make run    - set up and serve decisions (local Redis, demo data and model, demo key)"
	@echo "make test   - set up, then ruff, mypy and the whole pytest suite against a real redis-server"
	@echo "make check  - lint, types and tests without the set-up"
	@echo "make bench  - the /v1/decide benchmark recorded in docs/BENCHMARKS.md"
	@echo "make perf-gate - ~1 min: decide path vs /healthz CPU per request, fails on a >30 % regression (.ci/run runs it)"

setup: env redis-binary

# uv comes from PyPI when missing; the environment and its lock file are the project's own.
env: $(BIN)/.synced
$(BIN)/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

# Debian's redis-server when none is installed (as root, or through sudo).
redis-binary:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing Debian's redis-server"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; \
	  command -v redis-server >/dev/null || { echo "could not install redis-server" >&2; exit 1; }; }

run: setup
	$(BIN)/fraudgate run

test: setup test-tools check

# Best effort: the checkers some tests use when present (promtool, docker-compose config, openssl); tests that need
# one skip with a reason when it is missing, so a failed install here never fails the suite.
test-tools:
	@missing=""; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
	  echo "installing test tools:$$missing (best effort)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null ) \
	    || echo "could not install:$$missing; the tests that need them will skip"; \
	fi

check: lint types pytest

lint:
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

types:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/decide_bench.py

# Same-run ratio of the decide path to a trivial endpoint (docs/benchmarks/speed.md); baseline in
# benchmarks/perf_baseline.json, re-recorded with `$(BIN)/python benchmarks/perf_gate.py --record`.
perf-gate: setup
	$(BIN)/python benchmarks/perf_gate.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
