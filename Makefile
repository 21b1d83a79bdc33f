# reprospec's own tasks. The environment installs from a hashed lock, as the
# bundles reprospec generates do.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint lock bench clean

$(STAMP): requirements/dev-lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

# Run the digits experiment end to end: build, seeded stages, MLflow, snapshots.
demo: $(STAMP)
	$(BIN)/reprospec run specs/digits_mlp.yaml

test: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests examples scripts bench
	$(BIN)/ruff format --check src tests examples scripts bench
	$(BIN)/mypy

# Re-resolve the project's own environment. PIP_FIND_LINKS, when set, names this
# machine's wheel folder; it is used for resolution and never written to the lock.
lock:
	$(BIN)/uv pip compile requirements/dev.in --generate-hashes --python-version 3.11 \
	  --no-emit-find-links --quiet -o requirements/dev-lock.txt \
	  $(foreach link,$(PIP_FIND_LINKS),--find-links $(link))

# Measure what reprospec costs beside the tools it wraps (numbers, not pass/fail):
# writes bench/results.md and bench/results.json; scratch clones go to bench/.work/.
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .reprospec
