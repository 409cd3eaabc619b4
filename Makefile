# Credwright: two commands for a new user, `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
VENDOR := app/static/vendor

.PHONY: run test deps test-deps static cjk-font migrate seed chromium poppler lint check-migrations worker clean screenshots

run: deps static migrate seed  ## Install, migrate, load demo data and serve on :5000
	@echo "Serving Credwright on http://127.0.0.1:5000 (jobs run inline; Ctrl-C stops)"
	$(FLASK) run --host 127.0.0.1 --port 5000

# Two workers: the machine has two cores. PYTEST_ARGS="-n 0 -x" for a serial run.
PYTEST_ARGS ?= -n 2
test: test-deps static chromium poppler  ## Install what the tests need and run the whole suite
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
# The icons: only the Lucide SVGs the app names (app/web/icons.py ICONS), as one sprite.
static: node_modules/.package-lock.json cjk-font $(VENV)/.deps
	@mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/@picocss/pico/css/pico.min.css $(VENDOR)/pico.min.css
	$(BIN)/python app/web/icons.py node_modules/lucide-static/icons $(VENDOR)/icons.svg

# Certificate PDFs embed a CJK font for Chinese, Japanese and Korean names: Debian's
# WenQuanYi Micro Hei (fonts-wqy-microhei, TrueType), installed when missing and copied
# next to DejaVu Sans (app/services/pdf.py reads it there). CJK_FONT may name another
# copy of that file.
CJK_FONT ?= /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
CJK_FONT_COPY := app/static/fonts/wqy-microhei.ttc
# Best effort: without apt (or root/sudo) the app still runs, and CJK names fall back to
# the viewer's fonts with a warning in the log.
cjk-font:
	@if [ ! -f "$(CJK_FONT)" ]; then \
	  if [ "$(CJK_FONT)" != /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	    echo "CJK_FONT=$(CJK_FONT) is not a file" >&2; exit 1; fi; \
	  echo "Installing Debian's fonts-wqy-microhei for CJK names in certificate PDFs"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  { command -v apt-get >/dev/null 2>&1 && $$SUDO apt-get update -qq \
	    && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-wqy-microhei; } \
	  || echo "Could not install fonts-wqy-microhei: CJK names in PDFs will use the viewer's fonts" >&2; \
	fi
	@if [ -f "$(CJK_FONT)" ]; then cmp -s "$(CJK_FONT)" $(CJK_FONT_COPY) || cp "$(CJK_FONT)" $(CJK_FONT_COPY); fi

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

# The certificate template browser test turns a PDF's first page into a PNG to look at
# (pdftoppm, from Debian's poppler-utils): installed when it is missing.
poppler:
	@if command -v pdftoppm >/dev/null 2>&1; then :; else \
	  echo "Installing Debian's poppler-utils (pdftoppm) for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq poppler-utils; \
	fi

# README screenshots: the app on a throwaway demo database, each role logged in through
# the login form, docs/screenshots/*.png at 1280 px (a few at 390). Commit the PNGs.
screenshots: test-deps static chromium  ## Retake docs/screenshots/*.png of the main screens
	$(BIN)/python scripts/screenshots.py

worker: deps  ## An RQ worker (needs REDIS_URL)
	$(FLASK) rq worker

lint: test-deps  ## ruff, as CI runs it
	$(BIN)/ruff check .

# The migrations match the models: `flask db check` on a freshly migrated throwaway
# SQLite database, then on a throwaway PostgreSQL database (created and dropped on the
# server CHECK_PG_URL names; by default DATABASE_URL's when that is PostgreSQL).
CHECK_PG_URL ?= $(if $(filter postgres%,$(DATABASE_URL)),$(DATABASE_URL),)
# create|drop <server URL> <database>: prints the URL of <database> on that server.
PG_SCRATCH = $(BIN)/python -c 'import sys; from sqlalchemy import create_engine, text; \
  from sqlalchemy.engine import make_url; \
  url = make_url(sys.argv[2].replace("postgresql://", "postgresql+psycopg://", 1)); \
  conn = create_engine(url, isolation_level="AUTOCOMMIT").connect(); \
  conn.execute(text(f"DROP DATABASE IF EXISTS \"{sys.argv[3]}\" WITH (FORCE)")); \
  sys.argv[1] == "create" and conn.execute(text(f"CREATE DATABASE \"{sys.argv[3]}\"")); \
  print(url.set(database=sys.argv[3]).render_as_string(hide_password=False))'
check-migrations: deps  ## flask db check on fresh SQLite and PostgreSQL databases
	@set -euo pipefail; tmp=$$(mktemp -d); pg_db="credwright_check_$$$$"; \
	cleanup() { [ -z "$(CHECK_PG_URL)" ] || $(PG_SCRATCH) drop "$(CHECK_PG_URL)" "$$pg_db" >/dev/null; \
	            rm -rf "$$tmp"; }; \
	trap cleanup EXIT; \
	export APP_ENV=development SECRET_KEY=check-migrations AUDIT_KEY=check-migrations STORAGE_DIR="$$tmp/storage" REDIS_URL=; \
	check() { \
	  echo "== migrations vs models: $$1"; \
	  DATABASE_URL="$$2" $(FLASK) db upgrade >"$$tmp/log" 2>&1 || { cat "$$tmp/log"; exit 1; }; \
	  if ! DATABASE_URL="$$2" $(FLASK) db check >"$$tmp/log" 2>&1; then \
	    grep -v "^INFO" "$$tmp/log"; echo "== $$1: the models differ from the migrations" >&2; exit 1; \
	  fi; \
	  tail -n 1 "$$tmp/log"; \
	}; \
	check SQLite "sqlite:///$$tmp/check.db"; \
	if [ -n "$(CHECK_PG_URL)" ]; then \
	  pg_url=$$($(PG_SCRATCH) create "$(CHECK_PG_URL)" "$$pg_db"); \
	  check PostgreSQL "$$pg_url"; \
	else \
	  echo "== PostgreSQL not checked: set CHECK_PG_URL (or a PostgreSQL DATABASE_URL)"; \
	fi

clean:
	rm -rf $(VENV) node_modules $(VENDOR) $(CJK_FONT_COPY) .pytest_cache
