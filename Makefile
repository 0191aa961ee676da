# Two commands set everything up on a fresh machine: `make run` and `make test`.
PORT ?= 8000
LOCAL_TOKEN ?=
export PORT LOCAL_TOKEN

PYTHON ?= python3
STAGE ?= dev
ALARM_EMAIL ?=
VENV := .venv
PY := $(VENV)/bin/python
# Two installs into one virtualenv: what running needs (`make run`, the tools that talk to a
# running stack), then what testing, fuzzing and benchmarking add. Both take the exact versions
# of constraints.txt (local/patches.py refuses other versions of what it patches).
RUN_STAMP := $(VENV)/.run-stamp
STAMP := $(VENV)/.dev-stamp
PIP := $(VENV)/bin/pip install --disable-pip-version-check --progress-bar off --no-compile -c constraints.txt
# pip's own lines, less the noise: what it fetches and what it installed
SHOW_PIP := awk '/^(Collecting|Successfully installed)/ { print "   " $$0; fflush() }'
SHELL := /bin/bash
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DATA_DIR ?= $(if $(LOCAL_DATA_DIR),$(LOCAL_DATA_DIR),.local/data)

.PHONY: run reset test lint typecheck chromium clients clean wheelhouse package deploy destroy cold-start rollup screenshots fuzz verify soak bench

$(RUN_STAMP): pyproject.toml constraints.txt
	@echo "== Installing what running needs into $(VENV) (once; about 130 MB)"
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check "pip<26.3"
	@set -o pipefail; $(PIP) -e ".[local]" | $(SHOW_PIP)
	@touch $@
	@echo "== Installed ($$(du -sh $(VENV) | cut -f1))"

$(STAMP): $(RUN_STAMP)
	@echo "== Installing the test, fuzz and bench tools into $(VENV) (once)"
	@set -o pipefail; $(PIP) -e ".[local,dev]" | $(SHOW_PIP)
	@touch $@

## run: create the environment, start the local stack with a seeded demo site (its data kept in .local/data)
run: $(RUN_STAMP)
	exec $(PY) -m local

## reset: forget what the local stack kept (the next `make run` seeds a new demo site)
reset:
	rm -rf "$(DATA_DIR)"
	@echo "== $(DATA_DIR) removed"

## chromium: Debian's Chromium for the browser tests (never a downloaded browser)
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

## clients: the npm tools of make test (openapi-typescript, openapi-fetch, TypeScript 5 and Redocly
## for the generated-client checks; axe-core for the console's accessibility check), exactly as
## clients/typescript/package-lock.json locks them
CLIENTS_STAMP := clients/typescript/node_modules/.installed
$(CLIENTS_STAMP): clients/typescript/package.json clients/typescript/package-lock.json
	@echo "== Installing the generated-client tools into clients/typescript/node_modules (npm ci, once)"
	@cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
clients: $(CLIENTS_STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy app.py chalicelib local bench

## test: everything a user needs to trust it (lint, types, unit, integration, workflow, e2e, browser),
## then the tests marked `dates` again at each of DATE_ANCHORS (TEST_CLOCK_ANCHOR, see tests/builders.py):
## well past today (+400 days, +3 years), across a year end, on 29 February, on two DST change days
## (London's clocks going forward; New York's repeated hour as they go back) and in the first hour
## of a Sunday (New York's Sunday weeks)
DATE_ANCHORS ?= +400d +3y 2027-12-31T23:30[Europe/London] 2028-02-29T12:00[Europe/London] \
	2027-03-28T12:00[Europe/London] 2027-11-07T01:30-05:00 2027-06-06T00:30[America/New_York]
test: $(STAMP) chromium $(CLIENTS_STAMP) lint typecheck
	$(VENV)/bin/pytest
	@echo; echo "=== integration and workflow suites with every speed-up of local/patches.py off (LOCAL_SPEEDUPS=0)"
	LOCAL_SPEEDUPS=0 $(VENV)/bin/pytest tests/integration tests/workflow -q -p no:randomly
	@set -f; for anchor in $(DATE_ANCHORS); do \
		echo; echo "=== date tests (-m dates) with TEST_CLOCK_ANCHOR=$$anchor"; \
		TEST_CLOCK_ANCHOR="$$anchor" $(VENV)/bin/pytest -m dates || { \
			echo "=== date tests FAILED with TEST_CLOCK_ANCHOR=$$anchor"; exit 1; }; \
	done

clean:
	rm -rf $(VENV) dist .mypy_cache .ruff_cache clients/typescript/node_modules

## wheelhouse: runtime wheels for Lambda (manylinux x86_64, CPython 3.11); needs PyPI once
dist/wheelhouse/.stamp: pyproject.toml | $(STAMP)
	$(PY) infra/package.py --wheelhouse-only
	touch $@
wheelhouse: dist/wheelhouse/.stamp

## package: Lambda zip + packaged template under dist/, offline from the wheelhouse
package: $(STAMP) dist/wheelhouse/.stamp
	$(PY) infra/package.py --stage $(STAGE)

## deploy: package, deploy the stack, upload the console (needs AWS credentials and region)
deploy: package
	$(PY) infra/deploy.py deploy --stage $(STAGE) --alarm-email "$(ALARM_EMAIL)"

## destroy: delete the stack (the table is retained; see docs/deploy.md)
destroy: $(STAMP)
	$(PY) infra/deploy.py destroy --stage $(STAGE)

## cold-start: import cost of the handler modules against the boto3+pydantic baseline
cold-start: $(STAMP)
	$(PY) bench/cold_start.py

## rollup: run the scheduled jobs once (ranks + leaderboard period close, KPI rollup, point expiry) against the running local stack
rollup: $(RUN_STAMP)
	$(PY) tools/rollup.py

## screenshots: PNGs of the user table, each tab, the open panel and the other screens in docs/screenshots/ (needs `make run` running)
screenshots: $(STAMP) chromium
	$(PY) tools/screenshots.py

## fuzz: a longer schemathesis run against /openapi.json (a running stack on PORT, or one started for it)
fuzz: $(STAMP)
	$(PY) tools/fuzz.py $(FUZZ_ARGS)

## verify: the invariant checker over every site of the running stack (wallets = ledgers, coupons, bounties...)
verify: $(RUN_STAMP)
	$(PY) tools/verify.py

## soak: a mixed workload for a few minutes, then the invariant checker (SOAK_ARGS="--seconds 15" for a short one)
soak: $(RUN_STAMP)
	$(PY) bench/soak.py $(SOAK_ARGS)

## bench: every benchmark under bench/, written to docs/benchmarks.md (BENCH_ARGS="--quick --only engine,soak" for a part)
bench: $(STAMP) chromium
	$(PY) tools/bench_report.py $(BENCH_ARGS)
