# kechuang — two commands: `make run` and `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KC := $(VENV)/bin/kechuang
PIP := $(PY) -m pip install --disable-pip-version-check -q

.PHONY: run test install install-dev lint format i18n bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# The demo serves the AI for Science leaderboards too, so `make run` installs the `science` extra (the
# built-in tasks' data ship inside those packages).
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) -e '.[science]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) -e '.[dev,science,spark]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Install, upgrade the database, load the small demo data set when empty, serve on 127.0.0.1:8000.
run: install
	$(KC) db upgrade
	$(KC) demo load --size small --if-empty --execute
	$(KC) commitments import-reply src/kechuang/commitments/seed/hukeitifu-2025-56.txt --execute >/dev/null
	$(KC) science seed >/dev/null
	KECHUANG_DEMO_MODE=true $(KC) demo logins
	KECHUANG_DEMO_MODE=true $(KC) serve

## Install dev dependencies, run ruff and pytest on SQLite, and on PostgreSQL when KECHUANG_TEST_POSTGRES_URL is set.
test: install-dev
	$(VENV)/bin/ruff check .
	$(PY) -m pytest
	@if [ -n "$$KECHUANG_TEST_POSTGRES_URL" ]; then \
		echo "== PostgreSQL =="; \
		KECHUANG_TEST_DATABASE_URL="$$KECHUANG_TEST_POSTGRES_URL" $(PY) -m pytest -m "not browser and not spark"; \
	else echo "KECHUANG_TEST_POSTGRES_URL not set: PostgreSQL run skipped"; fi

lint: install-dev
	$(VENV)/bin/ruff check .

format: install-dev
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

## Extract UI strings and update the zh/en catalogs (then translate the new entries in the .po files).
i18n: install-dev
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ -k _ -k gettext -k ngettext:1,2 -o src/kechuang/web/locale/messages.pot src
	$(VENV)/bin/pybabel update -i src/kechuang/web/locale/messages.pot -d src/kechuang/web/locale -D messages --no-fuzzy-matching

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .ruff_cache
