# The README's two commands: `make demo` and `make test`. Both build the venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCENARIO ?= worlds/the_ville_3.yaml
UNTIL    ?= +2h

.PHONY: demo test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's dependencies change. torch is installed first and
# pinned: on these machines torch==2.13.0 is a CPU build already on disk, and
# letting a dependency pull "torch" would download a multi-GB CUDA build.
TORCH ?= torch==2.13.0
PIP   := $(BIN)/python -m pip install --quiet --disable-pip-version-check

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) '$(TORCH)'
	$(PIP) -e '.[test]' '$(TORCH)'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/agentville run $(SCENARIO) --until $(UNTIL) --db runs/demo.db

# ruff (lint + import order) and mypy (sim/, agents/ and dashboard/). mypy cannot follow the
# package-dir mapping, so it reads the packages through a tree of symlinks that
# spells them as installed (agentville/sim -> ../../sim).
TYPECHECK := .typecheck
lint: install
	$(BIN)/ruff check .
	@mkdir -p $(TYPECHECK)/agentville
	@for d in sim agents dashboard; do ln -sfn ../../$$d $(TYPECHECK)/agentville/$$d; done
	cd $(TYPECHECK) && $(abspath $(BIN))/mypy --config-file ../pyproject.toml -p agentville.sim -p agentville.agents -p agentville.dashboard

test: install lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache $(TYPECHECK) .mypy_cache .ruff_cache
