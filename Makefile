# `make chat` and `make test` work on a fresh machine: they create .venv and install what is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: chat test lint typecheck pytest coverage system-deps diagrams bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

chat: $(STAMP)
	@$(VENV)/bin/flowhq chat examples.signup:Signup --asgi examples.demo_api:app

system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks scripts
	$(VENV)/bin/ruff format --check src tests examples benchmarks scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict

pytest: $(STAMP) system-deps
	$(VENV)/bin/pytest

test: lint typecheck pytest

# coverage.py starts before pytest, so it also sees flowhq being imported by the flowhq
# pytest plugin (an entry point loaded before pytest-cov could start measuring).
coverage: $(STAMP) system-deps
	$(VENV)/bin/coverage run -m pytest -q
	$(VENV)/bin/coverage report --show-missing

diagrams: $(STAMP)
	$(VENV)/bin/python -m scripts.regenerate_diagrams

# `make bench QUICK=1`: the smoke version (small counts, one run, docs/benchmarks.md untouched).
bench: $(STAMP) system-deps
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) benchmarks/run.py $(if $(filter-out 0,$(QUICK)),--quick)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
