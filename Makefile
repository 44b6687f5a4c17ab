# TrialBench. `make` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help install install-dev demo test lint format bench clean reference-policy

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

lint: install-dev ## ruff check + format check + import contracts (the one-way rule between apps)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: install-dev ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install-dev ## Run the benchmarks and print their figures
	$(PY) -m bench

reference-policy: install ## Retrain the reference VLA on CPU (torch; cells in parallel, ~12 min on 2 cores) and rewrite policies/reference/artifacts/
	$(PIP) install -q -r requirements-train.txt
	$(PY) -m policies.reference.train

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var
