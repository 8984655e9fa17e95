# The practice's SMS assistant. Two commands matter: `make run` and `make test`.
# Every setting is an environment variable documented in README "Configuration".
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
RASA := $(BIN)/rasa
PY := $(BIN)/python
STAMP := $(VENV)/.installed
MODEL_STAMP := models/.trained

# Python 3.10: PYTHON=... wins, then a python3.10 on PATH that runs (pyenv's shim may not), then pyenv's 3.10.
PYTHON ?= $(shell for c in $$(command -v python3.10 2>/dev/null) $$(ls -d $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.10.*/bin/python3.10 2>/dev/null | sort -rV); do \
  "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null && { echo "$$c"; break; }; done)

export PYTHONPATH := $(CURDIR)
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_WARN_20 := 0
# ACTION_PORT, Rasa's tracker and lock store (endpoints.yml) and TWILIO_API_BASE (the local Twilio stub;
# set TWILIO_API_BASE= for real Twilio): their defaults are declared once, in bot/settings.py
# (development_environment); the environment wins. bot/settings.py needs only the standard library.
SETTINGS_PYTHON := $(firstword $(wildcard $(PY)) $(shell command -v python3))
ENV_DEFAULTS := $(shell PYTHONPATH=$(CURDIR) $(SETTINGS_PYTHON) -m bot.settings)
$(if $(ENV_DEFAULTS),,$(error could not read the defaults from bot/settings.py with "$(SETTINGS_PYTHON)"))
$(foreach default,$(ENV_DEFAULTS),$(eval export $(default)))

TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) $(wildcard nlu/*.py bot/language/safety.py)
PHONE ?= +15035550111

.PHONY: help print-env setup db train run shell test test-fast lint validate pytest story-test evaluate bench review-nlu mutate clean

print-env:  # what the services get: the defaults of bot/settings.py unless the environment says otherwise
	@$(foreach name,ACTION_PORT TRACKER_DIALECT TRACKER_DB_URL TRACKER_DB LOCK_STORE_TYPE LOCK_STORE_URL LOCK_STORE_PORT TWILIO_API_BASE,echo "$(name)=$$$(name)";)

help:
	@echo "make run    set up, migrate, load the demo practice, train if needed, start everything"
	@echo "make test   everything CI runs (lint first)"
	@echo "make lint   ruff, and the contract that the domain (bot/) imports no framework or adapter"
	@echo "make test-fast  lint and every test that needs no trained model (no training, no Rasa server)"
	@echo "make shell  a Rasa shell as a demo patient (PHONE=+1... to choose; needs make run)"
	@echo "make validate | train | evaluate | bench | review-nlu | mutate | clean"

$(STAMP): requirements.txt
	@if [ -z "$(PYTHON)" ]; then \
	  echo "Python 3.10 not found: Rasa 3.6 needs Python 3.8-3.10. Install it (e.g. pyenv install 3.10) or run make PYTHON=/path/to/python3.10"; exit 1; fi
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 10), sys.version' || \
	  { echo "$(PYTHON) is not Python 3.10"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(STAMP)

db: $(STAMP)
	@mkdir -p var
	$(PY) -m bot db setup

$(MODEL_STAMP): $(STAMP) $(TRAINING_INPUTS)
	$(RASA) train --fixed-model-name practice --out models --quiet
	touch $@

train: $(MODEL_STAMP)

run: db train
	$(PY) -m bot run

shell: $(MODEL_STAMP)
	@if ! (exec 3<>/dev/tcp/127.0.0.1/$(ACTION_PORT)) 2>/dev/null; then \
	  echo "The action server is not running: start 'make run' in another terminal first."; exit 1; fi
	$(RASA) shell --model models --endpoints endpoints.yml --logging-config-file logging.yml --port 5006 --conversation-id "$(PHONE)"

# ruff, then import-linter's contract (pyproject.toml [tool.importlinter]): bot/ imports no Rasa, Twilio,
# Sanic, Flask or adapter package.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

validate: $(STAMP)
	$(RASA) data validate --fail-on-warnings --quiet

# Tests run in TEST_WORKERS processes (pytest-xdist): many of them wait on sockets, subprocesses and
# timeouts, so more workers than cores keep both cores busy (3 measured fastest on 2 cores: README, Tests).
# The needs_model tests start Rasa servers of ~1 GB each: they run afterwards in one process.
TEST_WORKERS ?= 3
PYTEST := $(PY) -m pytest -q -p no:cacheprovider

pytest: $(STAMP) $(MODEL_STAMP)
	$(PYTEST) -n $(TEST_WORKERS) -m "not needs_model"
	$(PYTEST) -m needs_model

# Every test but those marked needs_model (pyproject.toml markers): no training, no Rasa server.
test-fast: lint
	$(PYTEST) -n $(TEST_WORKERS) -m "not needs_model"

story-test: $(MODEL_STAMP)
	$(RASA) test core --model models --stories tests/stories --fail-on-prediction-errors --out results/stories

test: lint validate train pytest story-test

evaluate: $(STAMP)
	$(PY) -m tools.evaluate

bench: $(STAMP) $(MODEL_STAMP)
	$(PY) bench/bench_reminders.py
	$(PY) bench/bench_nlu.py
	$(PY) bench/bench_pipeline.py

# Mutation testing of the modules that guard the promises (about 40 min on 2 cores; not part of make test).
mutate: $(STAMP)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -rf mutants
	@mkdir -p var
	$(BIN)/mutmut run --max-children 2 > var/mutmut.log 2>&1 || { tail -20 var/mutmut.log; exit 1; }
	$(PY) -m tools.mutation_report

review-nlu: $(STAMP)
	$(PY) -m bot review-nlu

clean:
	rm -rf models/*.tar.gz $(MODEL_STAMP) results reports .pytest_cache .ruff_cache .import_linter_cache
