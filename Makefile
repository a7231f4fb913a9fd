# keepline: every target installs what it needs, idempotently.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup stack run test test-unit lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing keepline (editable, with dev tools)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	@touch $@

setup: $(STAMP) ## create .venv and install keepline

stack: setup ## fetch Kafka (Maven), build MinIO (go install) into .cache/, find PostgreSQL
	@$(BIN)/python -m deploy provision

run: stack ## start Kafka, MinIO and keepline in the foreground (Ctrl-C stops all)
	@$(BIN)/python -m deploy run

# Test files spread over this many worker processes (one file stays on one worker, so the
# services a module shares start once); the workers share one Kafka, MinIO and PostgreSQL.
TEST_WORKERS ?= 4

test: stack ## the whole suite, integration tests on real Kafka, MinIO and PostgreSQL
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

test-unit: setup ## unit tests only (no services)
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile tests/unit

lint: setup ## ruff and mypy --strict
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy api streams service storage policies deploy keepline bench
	@$(BIN)/lint-imports --no-cache

bench: stack ## the benchmarks of SPEC section 8, one JSON object a line
	@$(BIN)/python -m bench

.PHONY: chaos
chaos: stack ## fault injection (workers killed, MinIO and Kafka restarted): nothing lost
	@$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

clean: ## remove the venv and local data (keeps the Kafka/MinIO cache)
	rm -rf $(VENV) .data
