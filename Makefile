# The two entry points: `make demo` (the main job) and `make test` (the whole suite).
# Both set up everything on a fresh machine first: the virtual environment, the project,
# the test tools, the Node.js packages the interop tests talk to, and the chat demo's
# browser client (socket.io-client from npm, in demo/node_modules). `make test` also needs
# Debian's chromium for the browser test (`make browser` installs it).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM := /usr/bin/chromium
# What the optional mypyc build (socketio_core/native.py) is made from, with what it imports.
MYPYC_SOURCES := $(wildcard socketio_core/*.py)

.PHONY: setup demo browser brokers test lint typecheck bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml setup.py websocket/_speedups.c tests/node/package.json tests/node/package-lock.json demo/package.json demo/package-lock.json | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . --group dev
	@if $(BIN)/python -c "import importlib.metadata as m; m.version('websocket-client')" 2>/dev/null; then \
		echo "websocket-client is installed in $(VENV) and clashes with our 'websocket' package; removing it"; \
		$(BIN)/python -m pip uninstall --yes websocket-client; fi
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	cd demo && npm ci --no-audit --no-fund --loglevel=error
	touch $@
	touch -r $@ $(VENV)/.compiled

# The install above builds the accelerators (setup.py: the C speedup, and socketio_core's core
# compiled with mypyc when a C compiler is present). A compiled build older than its sources is
# ignored at import (the pure modules run), so rebuild it (re-install the project, no
# dependencies) when one changes.
$(VENV)/.compiled: $(MYPYC_SOURCES) | $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed $(VENV)/.compiled

# Debian's redis-server and rabbitmq-server, for the message-queue manager tests (they start
# private instances on loopback ports of their own); the demo does not need them.
brokers:
	sh scripts/install-brokers.sh

# The chat demo (demo/): the page, Socket.IO and the bot, on http://$(HOST):$(PORT)/.
demo: setup
	$(BIN)/python -m demo --host $(HOST) --port $(PORT)

# Debian's chromium, for the browser test (tests/demo/test_chat_browser.py).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
		else \
			echo "$(CHROMIUM) is missing: run 'sudo apt-get update && sudo apt-get install -y chromium'"; \
		fi; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check websocket engineio_core socketio_core demo

typecheck: setup
	$(BIN)/mypy

test: setup browser brokers lint typecheck
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/frames.py

clean:
	rm -rf $(VENV) tests/node/node_modules demo/node_modules
