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

say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
say "mypy"
.venv/bin/mypy
say "pytest"
.venv/bin/pytest "$@"
