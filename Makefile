# The two set-up commands the README names: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test sample bench clean

$(BIN)/engagement: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Ingest the bundled sample export and print the week ending 19 May 2023.
demo: $(BIN)/engagement
	$(BIN)/engagement ingest data/sample
	$(BIN)/engagement weekly-data --start 2023-05-19T23:59:59.999Z --indent 2

test: $(BIN)/engagement
	$(BIN)/python -m pytest

# Regenerate the bundled sample export (deterministic).
sample: $(BIN)/engagement
	$(BIN)/python -m pipelines.sample --out data/sample/rocketchat_sessions.json

bench: $(BIN)/engagement
	$(BIN)/python bench/benchmark.py

clean:
	rm -rf data/lake data/out
