# The two entry points: `make demo` (the main job) and `make test` (the whole suite).
# Both set up everything on a fresh machine first: the virtual environment, the project,
# the test tools and the Node.js packages the interop tests talk to.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8765

.PHONY: setup demo test lint typecheck bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml setup.py websocket/_speedups.c tests/node/package.json tests/node/package-lock.json | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . --group dev
	@if $(BIN)/python -c "import importlib.metadata as m; m.version('websocket-client')" 2>/dev/null; then \
		echo "websocket-client is installed in $(VENV) and clashes with our 'websocket' package; removing it"; \
		$(BIN)/python -m pip uninstall --yes websocket-client; fi
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/python -m websocket serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check websocket engineio_core socketio_core

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/frames.py

clean:
	rm -rf $(VENV) tests/node/node_modules
