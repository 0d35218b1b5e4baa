# The README's two commands: `make run` and `make test`. Both set up what they need
# idempotently (Python venv in .venv/, Redis, the project's Asterisk; PostgreSQL for tests).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
STAMP := $(VENV)/.installed-stamp
# pip's extra local indexes on some machines print a warning per package: keep the output readable.
PIP_QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: run test lint unit integration setup services asterisk down

$(STAMP): pyproject.toml
	scripts/services.sh python
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -e '.[dev]' $(PIP_QUIET)
	touch $(STAMP)

setup: $(STAMP)

services:
	scripts/services.sh up redis tts

asterisk:
	scripts/asterisk.sh up

## make run: the service against the local Asterisk, Redis and SQLite (Ctrl-C stops it), with the
## demo CRM loaded (again: the same rows are updated, nothing is added twice).
run: $(STAMP) services asterisk
	$(VENV)/bin/cti crm import config/crm-demo/*.csv
	$(VENV)/bin/cti run

## make test: the whole suite (ruff, mypy, unit and integration tests on the real stack), on
## SQLite and PostgreSQL: a service that cannot be had stops the run with the command that fixes it.
test: $(STAMP)
	scripts/services.sh up redis postgres baresip graphviz tts chromium
	scripts/asterisk.sh up
	$(MAKE) --no-print-directory lint
	url=$$(scripts/services.sh postgres-url); \
		CTI_TEST_DATABASE_URL="$$url" $(VENV)/bin/pytest -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check cti tests bench
	$(VENV)/bin/ruff format --check cti tests bench
	$(VENV)/bin/mypy cti

unit: $(STAMP)
	$(VENV)/bin/pytest -m "not integration"

integration: $(STAMP) services asterisk
	$(VENV)/bin/pytest -m integration

## make down: stop the project's Asterisk (Redis and PostgreSQL are left running).
down:
	scripts/asterisk.sh down
