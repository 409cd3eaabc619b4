# Credwright: two commands for a new user, `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
VENDOR := app/static/vendor

.PHONY: run test deps test-deps static migrate seed chromium lint worker clean

run: deps static migrate seed  ## Install, migrate, load demo data and serve on :5000
	@echo "Serving Credwright on http://127.0.0.1:5000 (jobs run inline; Ctrl-C stops)"
	$(FLASK) run --host 127.0.0.1 --port 5000

# Two workers: the machine has two cores. PYTEST_ARGS="-n 0 -x" for a serial run.
PYTEST_ARGS ?= -n 2
test: test-deps static chromium  ## Install what the tests need and run the whole suite
	$(BIN)/pytest $(PYTEST_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.deps: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.test-deps: $(VENV)/.deps pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

deps: $(VENV)/.deps
test-deps: $(VENV)/.test-deps

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# htmx and Pico are served from the app's own static folder, never from a CDN.
static: node_modules/.package-lock.json
	@mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/@picocss/pico/css/pico.min.css $(VENDOR)/pico.min.css

migrate: deps
	$(FLASK) db upgrade

seed: deps
	$(FLASK) seed --demo

# Browser tests drive Debian's chromium, or the executable CHROMIUM_PATH names (the
# tests read it too). Debian's is installed when it is missing; a CHROMIUM_PATH that
# is not executable is an error, not a reason to install another.
CHROMIUM_PATH ?= /usr/bin/chromium
export CHROMIUM_PATH
chromium:
	@if [ -x "$(CHROMIUM_PATH)" ]; then :; \
	elif [ "$(CHROMIUM_PATH)" != /usr/bin/chromium ]; then \
	  echo "CHROMIUM_PATH=$(CHROMIUM_PATH) is not an executable file" >&2; exit 1; \
	else \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	fi

worker: deps  ## An RQ worker (needs REDIS_URL)
	$(FLASK) rq worker

lint: test-deps
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache
