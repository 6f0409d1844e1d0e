# Every target creates .venv itself: on a fresh machine `make run` and `make test` are all the set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: run test lint typecheck unit slow bench clean

# torch goes in first and pinned, so that nothing that depends on it pulls a GPU build
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the open-source Portkey gateway that the connector tests run on 127.0.0.1 (skipped without npm)
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the Portkey gateway tests will be skipped"; fi

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

unit: $(STAMP) node_modules/.package-lock.json
	$(BIN)/python -m pytest -q

## slow: the end-to-end suites left out of the default run (pytest -m slow), with the benchmarks
slow: $(STAMP) node_modules/.package-lock.json
	$(BIN)/python -m pytest -q -m slow

## bench: the foundation benchmarks (results go to benchmarks/README.md by hand, with the machine)
bench: $(STAMP) slow
	$(BIN)/python benchmarks/debate.py
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/connectors.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/sandbox.py
	$(BIN)/python benchmarks/patterns.py
	$(BIN)/python benchmarks/bi.py
	$(BIN)/python benchmarks/research.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/learner.py
	$(BIN)/python benchmarks/cost_views.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
