# `make demo` and `make test` work on a fresh machine: they create .venv and install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install demo test lint typecheck unit bench eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/nightowl demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Real Prometheus/Alertmanager tests: installed when possible, and every skip says why (-rs).
# Two pytest-xdist workers, each given whole modules (their module-scoped servers start once);
# the slowest modules go first (tests/conftest.py). `make unit TEST_WORKERS=0` runs serially.
TEST_WORKERS ?= 2
unit: $(STAMP)
	@.ci/deps
	$(BIN)/pytest -q -rs -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks

eval: $(STAMP)
	$(BIN)/nightowl eval --suite synthetic --suite petshop --jobs 2 --out eval-out

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cache eval-out
