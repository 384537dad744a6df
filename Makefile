# Two commands on a fresh machine with only python3:
#   make run    create .venv, install, migrate ./dcc.db, serve on 127.0.0.1:8000
#   make test   create .venv, install, ruff + mypy + the whole pytest suite
# The database is DCC_DATABASE_URL (default sqlite:///./dcc.db).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_OPERATOR_ID := 91110000MA0000000H
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-deep lint typecheck pytest bench bench-netting bench-journal bench-load bench-verify bench-proofs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dcc db upgrade
	@mkdir -p keys
	@test -f keys/operator.pub || $(BIN)/dcc keygen --out keys/operator
	$(BIN)/dcc init --if-needed --operator-key keys/operator.pub \
		--operator-signing-key keys/operator.key \
		--operator-id $(DEV_OPERATOR_ID) --operator-name "dcc platform operator (dev)"
	$(BIN)/dcc serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# The property tests with many more examples, drawn at random each run (profile "deep",
# tests/conftest.py); `make test` draws a fixed, derandomised set.
test-deep: $(STAMP)
	HYPOTHESIS_PROFILE=deep $(BIN)/pytest tests/property

bench-netting: $(STAMP)
	$(BIN)/python bench/netting.py --sizes 1000,10000,100000,1000000,1026000

bench-journal: $(STAMP)
	$(BIN)/python bench/journal.py

bench-verify: $(STAMP)
	$(BIN)/python bench/verify.py --entries 20000 --runs 3

# What the ledger's verifiability costs: inclusion and consistency proofs on trees of
# 10^6 and 10^7 entries (about 3 minutes and 1.2 GiB of disk), then dcc verify's passes.
bench-proofs: $(STAMP)
	$(BIN)/python bench/proofs.py --sizes 1000000,10000000
	$(BIN)/python bench/verify.py --entries 20000 --runs 3

# Over real HTTP from separate client processes, on SQLite and then on PostgreSQL when
# DCC_BENCH_POSTGRES names a server's admin URL (a database is created and dropped);
# BENCH_WORKERS server processes (dcc serve --workers).
BENCH_WORKERS ?= 1
bench-load: $(STAMP)
	$(BIN)/python bench/load.py --clients 1,8,32 --workers $(BENCH_WORKERS)
	@if [ -n "$$DCC_BENCH_POSTGRES" ]; then \
		$(BIN)/python bench/load.py --clients 1,8,32 --workers $(BENCH_WORKERS) \
			--postgres "$$DCC_BENCH_POSTGRES"; fi

bench: bench-journal bench-netting bench-load bench-proofs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
