# The README's two commands: `make demo` and `make test`. Both build the venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCENARIO ?= worlds/the_ville_3.yaml
UNTIL    ?= +2h

.PHONY: demo test lint install install-test lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every install takes the versions in requirements.lock (pip constraints written by pip-compile from
# pyproject.toml's ranges), so a fresh clone gets what the last `make lock` tested, whatever has been
# released since. torch is installed first and pinned: on these machines torch==2.13.0 is a CPU build
# already on disk, and letting a dependency pull "torch" would download a multi-GB CUDA build.
TORCH ?= torch==2.13.0
LOCK  := requirements.lock
PIP   := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# the build backend comes from the lock too (no build isolation, which would take the newest setuptools)
PIP_LOCKED := $(PIP) --constraint $(LOCK) --no-build-isolation

# Two stamps: the lean one is what the demo needs (the package and its runtime dependencies);
# the test one adds the test extras (pytest, selenium, ray, ruff, mypy...) for `make test` and `make lint`.
$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) --constraint $(LOCK) setuptools '$(TORCH)'
	$(PIP_LOCKED) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_LOCKED) -e '.[test]'
	touch $@

# Refresh the lock: resolve pyproject.toml's ranges (all extras, the build backend too) to the newest
# releases with pip's own resolver, which sees the CPU torch on disk. UPGRADE= keeps the current pins
# and only adds what pyproject.toml gained.
LOCKVENV := .lockvenv
UPGRADE  ?= --upgrade
lock:
	rm -rf $(LOCKVENV) && $(PYTHON) -m venv $(LOCKVENV)
	$(LOCKVENV)/bin/python -m pip install --quiet --disable-pip-version-check 'pip-tools==7.7.0'
	echo '$(TORCH)' > $(LOCKVENV)/torch.txt
	CUSTOM_COMPILE_COMMAND='make lock' $(LOCKVENV)/bin/pip-compile --quiet $(UPGRADE) --all-extras --all-build-deps --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --constraint $(LOCKVENV)/torch.txt \
	  --output-file $(LOCK) pyproject.toml
	sed -i -E 's/^(torch==[0-9.]+)\+cpu$$/\1/' $(LOCK)  # the CPU build's tag: elsewhere the same release from PyPI
	rm -rf $(LOCKVENV)

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
	rm -rf $(VENV) $(LOCKVENV) runs .pytest_cache $(TYPECHECK) .mypy_cache .ruff_cache
