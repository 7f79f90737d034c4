# Set-up and entry points. Every target that needs Python builds .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0

.PHONY: setup run test bench clean fashion-mnist chromium postgresql

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch goes first, pinned: a bare "torch" requirement would pull several GB of CUDA wheels.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/pip install --quiet -e ".[all]"
	touch $@

# The test tools (pytest, schemathesis, playwright) on top.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

# Debian's dataset-fashion-mnist, where apt is there and we may use it; a no-op elsewhere.
fashion-mnist:
	@if [ -d /usr/share/datasets/fashion-mnist ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else echo "note: install the Debian package dataset-fashion-mnist for the fashion-mnist dataset"; fi

# Debian's chromium for the browser tests (tests/webui drive it with Playwright; no browser is downloaded).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "note: install the Debian package chromium for the browser tests (tests/webui)"; fi

# Debian's postgresql for the server tests' PostgreSQL cases (tests/server/postgres.py starts a throw-away
# cluster as the package's postgres user; without it those cases skip).
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	else echo "note: install the Debian package postgresql for the server tests on PostgreSQL (tests/server)"; fi

# The main job: the REST server and web UI on http://127.0.0.1:54321, with built-in datasets ready to train.
run: setup fashion-mnist
	$(BIN)/genforge start --data-dir genforge-data --preload digits --preload fashion-mnist:train

test: $(VENV)/.installed-test fashion-mnist chromium postgresql
	$(BIN)/python -m pytest

bench: setup fashion-mnist
	$(BIN)/python benchmarks/bench_import.py

clean:
	rm -rf $(VENV) out runs *.egg-info
