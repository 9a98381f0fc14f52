#!/usr/bin/env bash
# The test command: lint, type check and every test layer against real RabbitMQ, PostgreSQL, Redis
# and OpenBao (the tests start OpenBao themselves). Sets itself up on a fresh Debian machine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_rabbitmq
ensure_postgres
ensure_redis
ensure_chromium

say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
say "mypy"
.venv/bin/mypy
say "pytest"
# Test files run on two workers, each file whole on one of them (its module-scoped stack stays
# shared by its tests): the end-to-end files spend most of their time waiting on their services,
# so two of them overlap on two cores. MLC_TEST_WORKERS=0 runs everything in this process.
.venv/bin/pytest -n "${MLC_TEST_WORKERS:-2}" --dist loadfile "$@"
