#!/usr/bin/env bash
# The run command: ml-connector's whole job on one machine, on embedded defaults.
#
# Sets up the virtual environment and the local RabbitMQ, then starts the BC and Stripe
# emulators and the three services (SQLite database, encrypted secrets file and logs under
# var/demo/<time>/), plays a business day through them and prints what moved. The stack's
# environment is written to var/demo/<time>/env (var/demo/latest/env for the newest run):
# `source` it to use the services' CLIs and API, as the summary shows.
#   --keep-running   stay up after the summary (Ctrl-C or SIGTERM stops everything and
#                    deletes the run's queues from the broker)
#   --free-ports     serve the services on free ports instead of 8081-8083
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_rabbitmq
exec .venv/bin/python -m mlc_local.demo "$@"
