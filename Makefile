# The two set-up commands the README names: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint docs examples sample bench clean

# The package alone (what the demo needs), then the test, lint and docs tools on top of it.
$(BIN)/engagement: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

TOOLS := $(VENV)/.tools
$(TOOLS): pyproject.toml $(BIN)/engagement
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The nightly job on the bundled sample export (as its inbox), for the week ending 19 May 2023:
# it ingests the sample and writes data/out/weekly-data/2023-05-19.json (its log says so, or that a
# rerun left it unchanged); then the same week printed.
demo: $(BIN)/engagement
	$(BIN)/engagement nightly --inbox data/sample --date 2023-05-19 > data/nightly-demo.json
	$(BIN)/engagement weekly-data --start 2023-05-19T23:59:59.999Z --indent 2

# on every core (pytest-xdist), a test module's tests on one worker (they share its server)
test: $(TOOLS)
	$(BIN)/python -m pytest -n auto --dist loadscope

# What CI checks besides the tests: lint rules and declared dependencies (pyproject.toml).
lint: $(TOOLS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/deptry .

# The documentation site (MkDocs, Material theme) into build/site; a warning or a broken link fails it.
docs: $(TOOLS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Rewrite the example blocks of the README and docs/ from the real commands (tests/test_docs.py checks them).
examples: $(TOOLS)
	$(BIN)/python tests/doc_blocks.py

# Regenerate the bundled sample export (deterministic).
sample: $(BIN)/engagement
	$(BIN)/python -m pipelines.inputs.sample --out data/sample/rocketchat_sessions.json

bench: $(BIN)/engagement
	$(BIN)/python bench/benchmark.py

clean:
	rm -rf data/lake data/out
