# Shared set-up steps for scripts/run.sh and scripts/test.sh (sourced, not executed).
#
# Each ensure_* step is idempotent: it does nothing when the thing is already there, starts a
# service that is installed but stopped, installs it from Debian's packages when missing and we
# are root, and otherwise stops with a message saying exactly what to install.

UV_VERSION="0.13.8"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/var/tools"
export UV_PYTHON_DOWNLOADS=never
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

port_open() { # host port
  python3 - "$1" "$2" <<'PY' 2>/dev/null
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()
except OSError:
    sys.exit(1)
PY
}

wait_port() { # host port seconds
  local i
  for ((i = 0; i < $3 * 4; i++)); do
    port_open "$1" "$2" && return 0
    sleep 0.25
  done
  return 1
}

apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  say "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_python() {
  PYTHON="${MLC_PYTHON:-}"
  if [ -z "$PYTHON" ]; then
    for candidate in python3.11 python3; do
      if command -v "$candidate" >/dev/null &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        PYTHON="$(command -v "$candidate")"
        break
      fi
    done
  fi
  [ -n "$PYTHON" ] || die "Python 3.11 is required (set MLC_PYTHON to its path)"
  export UV_PYTHON="$PYTHON"
}

ensure_venv() {
  ensure_python
  if [ ! -x "$TOOLS/bin/uv" ] || ! "$TOOLS/bin/uv" --version 2>/dev/null | grep -q "$UV_VERSION"; then
    say "installing uv $UV_VERSION into var/tools"
    "$PYTHON" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  say "syncing .venv from uv.lock"
  (cd "$ROOT" && "$TOOLS/bin/uv" sync --frozen --all-packages --quiet)
  ensure_console_assets
}

# The review console's front-end files (htmx, Pico CSS; axe-core for the browser tests) come
# from npm, pinned by services/reconciler/assets/package-lock.json, installed next to it.
ensure_console_assets() {
  local assets="$ROOT/services/reconciler/assets"
  local stamp="$assets/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && cmp -s "$assets/package-lock.json" "$assets/node_modules/.mlc-lock"; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    apt_install nodejs npm || die "npm is needed for the console's front-end files: install nodejs and npm"
  fi
  say "installing the console's front-end files from npm (package-lock.json)"
  (cd "$assets" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    die "npm ci failed in services/reconciler/assets"
  cp "$assets/package-lock.json" "$assets/node_modules/.mlc-lock"
}

# Debian's Chromium for the console's browser tests (Playwright drives it; never a download).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return 0
  fi
  apt_install chromium || die "the browser tests need Debian's chromium: apt-get install chromium"
}

amqp_handshake() { # a full AMQP handshake, not just an open port: a wedged broker accepts TCP
  "$ROOT/.venv/bin/python" - <<'PY' 2>/dev/null
import sys
import pika
url = "amqp://guest:guest@127.0.0.1:5672/%2F?socket_timeout=5&stack_timeout=15&connection_attempts=1"
try:
    pika.BlockingConnection(pika.URLParameters(url)).close()
except Exception:
    sys.exit(1)
PY
}

start_rabbitmq() {
  say "starting RabbitMQ"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_port 127.0.0.1 5672 90 || die "RabbitMQ did not start (see /var/log/rabbitmq)"
  local i
  for ((i = 0; i < 30; i++)); do
    amqp_handshake && return 0
    sleep 1
  done
  die "RabbitMQ listens but does not complete an AMQP handshake (see /var/log/rabbitmq)"
}

ensure_rabbitmq() {
  if port_open 127.0.0.1 5672; then
    amqp_handshake && return 0
    say "RabbitMQ accepts connections but does not answer; restarting it"
    timeout 60 rabbitmqctl stop >/dev/null 2>&1 || pkill -9 -f beam.smp || true
    sleep 2
    start_rabbitmq
    return 0
  fi
  if ! command -v rabbitmq-server >/dev/null; then
    apt_install rabbitmq-server ||
      die "RabbitMQ is not running on 127.0.0.1:5672 and cannot be installed here: install rabbitmq-server"
  fi
  start_rabbitmq
}

ensure_postgres() {
  if ! port_open 127.0.0.1 5432; then
    if ! command -v pg_ctlcluster >/dev/null; then
      apt_install postgresql ||
        die "PostgreSQL is not running on 127.0.0.1:5432 and cannot be installed here: install postgresql"
    fi
    say "starting PostgreSQL"
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    wait_port 127.0.0.1 5432 60 || die "PostgreSQL did not start"
  fi
  local url="${MLC_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
  "$ROOT/.venv/bin/python" - "$url" <<'PY' || die "cannot use PostgreSQL at 127.0.0.1:5432 as user postgres (set MLC_TEST_DATABASE_URL)"
import sys
import sqlalchemy as sa
url = sa.engine.make_url(sys.argv[1])
admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
with admin.connect() as c:
    if not c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}).first():
        c.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
admin.dispose()
PY
}

redis_ping() { # a PING answered, not just an open port
  "$ROOT/.venv/bin/python" - <<'PY' 2>/dev/null
import sys
import redis
try:
    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2, socket_connect_timeout=2)
    sys.exit(0 if client.ping() else 1)
except Exception:
    sys.exit(1)
PY
}

ensure_redis() { # the rate-limit store the tests share (MLC_RATELIMIT_STORAGE=redis://...)
  if port_open 127.0.0.1 6379; then
    redis_ping && return 0
    die "something listens on 127.0.0.1:6379 but does not answer a Redis PING"
  fi
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server ||
      die "Redis is not running on 127.0.0.1:6379 and cannot be installed here: install redis-server"
    # The package may have started its own service already.
    wait_port 127.0.0.1 6379 5 && redis_ping && return 0
  fi
  say "starting Redis"
  # Loopback only, nothing persisted: the counters are disposable test state.
  local dir=/var/lib/redis log=/var/log/redis/ci.log
  if ! { [ -w "$dir" ] && [ -w "$(dirname "$log")" ]; }; then
    dir="$ROOT/var/redis" log="$ROOT/var/redis/ci.log"
    mkdir -p "$dir"
  fi
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "$dir" --logfile "$log" >/dev/null ||
    die "redis-server did not start (see $log)"
  wait_port 127.0.0.1 6379 30 || die "Redis did not start (see $log)"
  redis_ping || die "Redis listens but does not answer a PING (see $log)"
}
