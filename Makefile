# Quick start: `make run` (full reanalysis of the default trial) and `make test`.
# Both create .venv when it is missing and (re)install the package when pyproject.toml changes.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= results
SEED ?= 20101115

# pytensor links BLAS only when asked; link the system one if present, otherwise say "none"
# explicitly so pytensor uses its NumPy fallback quietly (our samplers run through numba).
BLAS_LDFLAGS := $(shell ldconfig -p 2>/dev/null | grep -q 'libblas.so ' && echo '-lblas -llapack')
export PYTENSOR_FLAGS ?= blas__ldflags=$(BLAS_LDFLAGS)

.PHONY: run test test-fast validate lint format bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/reanalysis run --out $(OUT) --seed $(SEED)

# Both tiers on all cores (pytest-xdist); --dist loadfile keeps a module's tests, and so its
# module-scoped fixtures (whole runs computed once), on one worker.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n auto --dist loadfile

test-fast: $(STAMP)  ## the unit tier: no whole runs, processes, wheel or docs builds
	$(BIN)/pytest -m "not slow and not integration" -p no:cacheprovider -n auto

validate: $(STAMP)  ## long validations (full SBC, recovery); stores results under data/validation/
	$(BIN)/pytest -m slow -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

docs: $(STAMP)  ## the documentation site into site/
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) $(OUT) site .pytest_cache .ruff_cache
