# TrialBench. `make` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help install install-dev demo test test-fast test-lerobot lerobot-env lint typecheck lint-imports format bench clean reference-policy

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-nodeps.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-nodeps.txt requirements-dev.txt | $(PY)
	$(PIP) install -q -r requirements-dev.txt
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed ## Install the runtime requirements into .venv

install-dev: $(VENV)/.installed-dev ## Install runtime + test/lint requirements into .venv

demo: install ## Install, migrate, load the demo data, start web server + worker, print the URL
	PORT=$(PORT) PY=$(PY) bash scripts/demo.sh

test: install-dev ## Run the whole test suite (starts its own redis-server and workers)
	$(PY) -m pytest

test-fast: install-dev ## The suite without end-to-end, browser and worker tests (a few minutes)
	$(PY) -m pytest --ignore=tests/e2e -m "not browser and not worker"

# LeRobot pins an older torch than this project: it lives in its own venv (requirements-lerobot*.txt), and
# the tests that need it run their LeRobot side there as a subprocess (skipped when it is absent).
lerobot-env: ## Build .venv-lerobot (lerobot 0.4.4, torch 2.14.1, torchcodec) for the LeRobot interop tests
	bash scripts/lerobot_env.sh

test-lerobot: install-dev lerobot-env ## LeRobot interop: export loaded by LeRobot, import, serve_lerobot, the Gymnasium env
	LEROBOT_REQUIRED=1 $(PY) -m pytest tests/core/lerobot tests/core/sim/test_gym_env.py tests/policies/test_serve_lerobot.py tests/e2e/test_lerobot_trial.py tests/trials/test_lerobot_export.py

lint: install-dev ## ruff check + format check, mypy, the import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) --no-print-directory typecheck lint-imports

# DEBUG=1: the django-stubs plugin imports config.settings, which needs SECRET_KEY unless DEBUG is on.
typecheck: install-dev ## mypy with django-stubs and DRF stubs over the project
	DEBUG=1 $(VENV)/bin/mypy accounts robots policies trials reports common core config bench demo

# The layer contracts live in pyproject.toml ([tool.importlinter]); tests/test_architecture.py runs them too.
lint-imports: install-dev ## import-linter: imports run one way (core <- common <- accounts <- ... <- config)
	$(VENV)/bin/lint-imports --no-cache

format: install-dev ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install-dev ## Run the benchmarks and print their figures
	$(PY) -m bench

reference-policy: install ## Retrain the reference VLAs on CPU (torch) and rewrite policies/reference/artifacts/; CELL=<key> builds one
	$(PIP) install -q -r requirements-train.txt
ifeq ($(CELL),factory-kitting-arm)
	$(PY) -m policies.reference.arm
else ifneq ($(CELL),)
	$(PY) -m policies.reference.train --cell $(CELL)
else
	$(PY) -m policies.reference.train
	$(PY) -m policies.reference.arm
endif

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) .venv-lerobot var
