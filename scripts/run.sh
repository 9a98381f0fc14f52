#!/usr/bin/env bash
# The run command: ml-connector on one machine with embedded defaults.
#
# Sets up the virtual environment, starts the local RabbitMQ if needed, keeps its secrets in an
# encrypted file (var/secrets.enc, master key in var/master.key) and its database in SQLite
# (var/reconciler.db), then runs the three services until Ctrl-C. `--smoke` starts everything,
# checks that every service is ready, and stops again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1

ensure_venv
ensure_rabbitmq

mkdir -p var/log
umask 077
if [ ! -s var/master.key ]; then
  say "creating the master key for the local secrets file (var/master.key)"
  .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > var/master.key
fi
export MLC_MASTER_KEY="$(cat var/master.key)"
export MLC_SECRETS_BACKEND=file
export MLC_SECRETS_FILE="$ROOT/var/secrets.enc"
export MLC_DATABASE_URL="${MLC_DATABASE_URL:-sqlite:///$ROOT/var/reconciler.db}"
export MLC_BIND_HOST=127.0.0.1
export MLC_HEARTBEAT_FILE="$ROOT/var/consumer.heartbeat"
umask 022

# Local defaults for credentials that are not set yet; `mlc-secrets set` replaces them with
# real ones (see README). Existing values are never overwritten.
.venv/bin/python - <<'PY'
import secrets
from mlconnector.secrets import SecretNotFound, SecretsSettings, build_secret_store

store = build_secret_store(SecretsSettings.from_env())
defaults = {
    "ml-connector/bc": {
        "client_id": "local-bc-client",
        "client_secret": secrets.token_urlsafe(24),
        "client_state": secrets.token_urlsafe(32),
    },
    "ml-connector/stripe": {
        "api_key": "sk_test_local" + secrets.token_hex(12),
        "webhook_secret": "whsec_" + secrets.token_hex(16),
    },
    "ml-connector/reconciler": {"replay_token": secrets.token_urlsafe(24)},
}
for path, values in defaults.items():
    try:
        current = store.read(path)
    except SecretNotFound:
        current = {}
    missing = {k: v for k, v in values.items() if k not in current}
    if missing:
        store.write(path, missing)
        print(f"    local default set for {path}: {', '.join(sorted(missing))}")
PY

say "migrating the database"
.venv/bin/reconciler migrate

PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

start() { # name port command...
  local name="$1" port="$2"
  shift 2
  MLC_PORT="$port" "$@" >"var/log/$name.log" 2>&1 &
  PIDS+=("$!")
}

say "starting the services (logs in var/log/)"
start bc-gateway 8081 .venv/bin/bc-gateway serve
start stripe-gateway 8082 .venv/bin/stripe-gateway serve
start reconciler-api 8083 .venv/bin/reconciler serve
start reconciler-consumer 0 .venv/bin/reconciler consume

ready() { # port
  .venv/bin/python - "$1" <<'PY'
import sys, time, urllib.request, urllib.error
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=3) as r:
            if r.status == 200:
                sys.exit(0)
    except (urllib.error.URLError, OSError):
        pass
    time.sleep(0.5)
sys.exit(1)
PY
}

status=0
for entry in bc-gateway:8081 stripe-gateway:8082 reconciler-api:8083; do
  name="${entry%%:*}"
  port="${entry##*:}"
  if ready "$port"; then
    printf '    %-16s ready  http://127.0.0.1:%s/readyz\n' "$name" "$port"
  else
    printf '    %-16s NOT READY (see var/log/%s.log)\n' "$name" "$name"
    status=1
  fi
done
if wait_heartbeat=$(.venv/bin/python -c '
import os, sys, time
p = os.environ["MLC_HEARTBEAT_FILE"]
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if os.path.exists(p) and time.time() - os.path.getmtime(p) < 5:
        sys.exit(0)
    time.sleep(0.5)
sys.exit(1)'); then
  printf '    %-16s consuming (heartbeat %s)\n' reconciler-consumer "var/consumer.heartbeat"
else
  printf '    %-16s NOT CONSUMING (see var/log/reconciler-consumer.log)\n' reconciler-consumer
  status=1
fi

if [ "$SMOKE" = 1 ] || [ "$status" != 0 ]; then
  exit "$status"
fi
say "ml-connector is running; Ctrl-C stops it"
wait
