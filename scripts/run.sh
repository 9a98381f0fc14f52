#!/usr/bin/env bash
# The run command: ml-connector's whole job on one machine, on embedded defaults.
#
# Sets up the virtual environment and the local RabbitMQ, then starts the BC and Stripe
# emulators and the three services (SQLite database and encrypted secrets file under
# var/demo/<time>/), plays a business day through them and prints what moved.
#   --keep-running   stay up after the summary (Ctrl-C stops everything)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_rabbitmq
exec .venv/bin/python -m mlc_local.demo "$@"
