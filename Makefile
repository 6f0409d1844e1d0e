# Every target creates .venv itself: on a fresh machine `make run` and `make test` are all the set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the embedded default — a 3-agent, 2-round debate on 100 arithmetic tasks, simulated models
run: $(STAMP)
	$(BIN)/ekklesia run

## test: lint, type-check and the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q

## bench: the foundation benchmarks (results go to benchmarks/README.md by hand, with the machine)
bench: $(STAMP)
	$(BIN)/python benchmarks/debate.py
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
