# `make demo` and `make test` work from a fresh clone with Python 3.11+ and pip.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench install fuzz faults bench-memory bench-inventory bench-distributed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/fleet demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	@bash .ci/ensure-packages
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/sweep_http.py --phones 2000

# The fault lab's long part (tests/faults/README.md); `make test` runs a seeded slice of each.
fuzz: $(BIN)/.installed
	$(BIN)/python -m tests.faults.fuzz --mutants 5000 --seed 1 --cli 30

# Everything long in the fault lab, each printing its counts (results in bench/RESULTS.md).
faults: fuzz
	PYTHONPATH=. $(BIN)/python -m tests.faults.http_servers
	PYTHONPATH=. $(BIN)/python -m tests.faults.crash_run --runs 20 --phones 120 --seed 1
	PYTHONPATH=. $(BIN)/python -m tests.faults.test_signals --runs 20 --seed 1
	$(BIN)/python bench/sweep_http.py --sizes 500,5000 --concurrency 1000 --bare

# Peak memory and speed of streamed sweeps at 1k, 10k and 50k lab phones (bench/RESULTS.md).
bench-memory: $(BIN)/.installed
	$(BIN)/python bench/sweep_memory.py --sizes 1000,10000,50000 --whole-fleet --old-loader

# Inventory loading alone: peak memory and CPU per host at 10k, 50k and 100k hosts.
bench-inventory: $(BIN)/.installed
	$(BIN)/python bench/inventory_load.py --sizes 10000,50000,100000

# A 10,000-phone sweep in one process, then through 1 and 2 local collectors, on each broker.
bench-distributed: $(BIN)/.installed
	$(BIN)/python bench/sweep_distributed.py --phones 10000
	$(BIN)/python bench/sweep_distributed.py --phones 10000 --broker amqp
