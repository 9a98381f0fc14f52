# Shortcuts; the README's two commands are scripts/run.sh and scripts/test.sh.
.DEFAULT_GOAL := help

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## run ml-connector locally on embedded defaults
	./scripts/run.sh

test: ## lint, type check and every test layer (real servers)
	./scripts/test.sh

lint: ## ruff and mypy only
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

test-unit: ## unit tests only
	.venv/bin/pytest tests/unit

test-integration: ## integration tests (RabbitMQ, PostgreSQL, OpenBao)
	.venv/bin/pytest tests/integration

bench: ## benchmarks (printed as ratios)
	.venv/bin/python bench/bus_publish.py

.PHONY: help run test lint test-unit test-integration bench
