# Two commands set everything up on a fresh machine: `make run` and `make test`.
PORT ?= 8000
LOCAL_TOKEN ?=
export PORT LOCAL_TOKEN

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck unit integration workflow e2e browser bench chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "pip<26.3"
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

## run: create the environment, start the local stack with a seeded demo site
run: $(STAMP)
	exec $(PY) -m local

## chromium: Debian's Chromium for the browser tests (never a downloaded browser)
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy app.py chalicelib local bench

## test: everything a user needs to trust it (lint, types, unit, integration, workflow, e2e, browser)
test: $(STAMP) chromium lint typecheck
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) dist .mypy_cache .ruff_cache
