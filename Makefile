# The README's two commands: `make demo` and `make test`. Both build the venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCENARIO ?= worlds/the_ville_3.yaml
UNTIL    ?= +2h

.PHONY: demo test lint install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's dependencies change. torch is installed first and
# pinned: on these machines torch==2.13.0 is a CPU build already on disk, and
# letting a dependency pull "torch" would download a multi-GB CUDA build.
TORCH ?= torch==2.13.0
PIP   := $(BIN)/python -m pip install --quiet --disable-pip-version-check

# Two stamps: the lean one is what the demo needs (the package and its runtime dependencies);
# the test one adds the test extras (pytest, selenium, ray, ruff, mypy...) for `make test` and `make lint`.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) '$(TORCH)'
	$(PIP) -e . '$(TORCH)'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test]' '$(TORCH)'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The summary's hints call .venv/bin/agentville as long as the venv is not activated, so they run as printed.
demo: install
	$(BIN)/agentville run $(SCENARIO) --until $(UNTIL) --db runs/demo.db
	@echo "Tip: source $(BIN)/activate once per shell, then type plain agentville (agentville --help lists the commands)."

# ruff (lint + import order) and mypy (sim/, agents/ and dashboard/). mypy cannot follow the
# package-dir mapping, so it reads the packages through a tree of symlinks that
# spells them as installed (agentville/sim -> ../../sim).
TYPECHECK := .typecheck
lint: install-test
	$(BIN)/ruff check .
	@mkdir -p $(TYPECHECK)/agentville
	@for d in sim agents dashboard; do ln -sfn ../../$$d $(TYPECHECK)/agentville/$$d; done
	cd $(TYPECHECK) && $(abspath $(BIN))/mypy --config-file ../pyproject.toml -p agentville.sim -p agentville.agents -p agentville.dashboard

test: install-test lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache $(TYPECHECK) .mypy_cache .ruff_cache
