# Thủ Đô Số — the two commands: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PG_TEST_URL ?= $(or $(THUDO_TEST_POSTGRES_URL),postgresql://postgres@127.0.0.1:5432/postgres)
DEMO_CITIZENS ?= 5000

.PHONY: help install run serve test lint typecheck test-sqlite test-postgres browser-deps bench clean

help:
	@echo "make run   — install, migrate, seed a demo city if empty, serve on http://127.0.0.1:$(PORT)"
	@echo "make test  — ruff, mypy, the test suite on SQLite and on PostgreSQL, browser tests"

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet --break-system-packages --user uv

$(BIN)/thudo: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

install: $(BIN)/thudo

run: install
	$(BIN)/thudo db upgrade
	$(BIN)/thudo seed --if-empty --citizens $(DEMO_CITIZENS)
	$(BIN)/thudo payments seed-demo
	$(BIN)/thudo health seed
	$(BIN)/thudo parking seed-demo
	$(BIN)/thudo participation seed-demo
	$(BIN)/thudo feedback seed-demo
	$(BIN)/thudo dossiers seed-demo
	$(BIN)/thudo serve --host 127.0.0.1 --port $(PORT)

serve: install
	$(BIN)/thudo serve --host 127.0.0.1 --port $(PORT)

# Debian's Chromium for the browser tests (never a downloaded browser) and redis-server.
# (PDFs need no system font: Noto Sans ships in src/thudo/documents/fonts.)
browser-deps:
	@{ command -v chromium && command -v redis-server; } >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium (browser tests) and redis-server (shared rate limits test)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-core redis-server >/dev/null; }

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

test-sqlite: install browser-deps
	THUDO_TEST_DATABASE_URL= $(BIN)/pytest

# PostgreSQL whenever it is reachable; in CI it must be (never skipped there).
test-postgres: install browser-deps
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  echo "== test suite on PostgreSQL ($(PG_TEST_URL))"; \
	  THUDO_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest; \
	elif [ -n "$$CI" ]; then \
	  echo "PostgreSQL is not reachable at $(PG_TEST_URL), and CI must test on it" >&2; exit 1; \
	else \
	  echo "== PostgreSQL not reachable at $(PG_TEST_URL): PostgreSQL run skipped (CI never skips it)"; \
	fi

test: lint typecheck test-sqlite test-postgres

# The benchmarks drive the server with wrk (Debian's package), installed when missing.
bench: install
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "Installing Debian's wrk (the benchmarks' HTTP load generator)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench --help

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
