"""Gunicorn settings shared by the HTTP services, and the ``serve`` command that starts them.

Each service keeps a tiny ``gunicorn_conf`` module inside its package (so it ships in the
wheel and the image) that calls ``gunicorn_config``. ``preload_app`` stays off: pika
connections, SQLAlchemy engines and MSAL apps must be created after the fork, and our factories
only create them lazily anyway.

Workers are ``mlconnector.http_worker.EdgeWorker``: gunicorn's ``gthread`` worker (request
threads wait on publisher confirms while the process's single publisher I/O thread keeps many
confirms in flight), except that a request reaches a thread only once it has fully arrived, a
thread never waits on a client longer than ``MLC_CLIENT_READ_TIMEOUT``, and the refusals
gunicorn itself makes (431, 414, malformed requests) are answered in the services' JSON error
shape. ``MLC_WEB_WORKER_CLASS=gthread`` restores the stock worker, for comparison
(``bench/slow_clients.py``) or as an escape hatch.

With ``MLC_COMMAND_PORT`` set, gunicorn listens on that port as well as on the main one: the
gateways answer commands on the first and webhooks on the second (``mlconnector.service_auth``),
so a NetworkPolicy can admit each caller to its own port.

Prometheus metrics run in prometheus-client's multiprocess mode (``mlconnector.metrics``): the
master puts ``PROMETHEUS_MULTIPROC_DIR`` in the workers' environment (the operator's value, or a
directory of its own under the worker temp directory), empties it when it starts (counts left by
an earlier run would be added to this one's), tells prometheus-client when a worker exits (its
live gauges go) and removes its own directory when it stops. Nothing here imports
prometheus_client before that variable is set: the library picks its storage at import time, and
workers inherit what the master imported.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

from mlconnector.config import EnvReader
from mlconnector.config import bounded
from mlconnector.config import bounded_int
from mlconnector.logging import gunicorn_logconfig

WORKER_CLASSES = {
    "edge": "mlconnector.http_worker.EdgeWorker",
    "gthread": "gthread",
}
# Request headers gunicorn accepts. Fewer fields than gunicorn's default (100) bound what a
# connection may make the worker buffer before its parser refuses with 431.
LIMIT_REQUEST_LINE = 4094
LIMIT_REQUEST_FIELDS = 50
LIMIT_REQUEST_FIELD_SIZE = 8190


_port = bounded_int(1, 65535)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _worker_class(raw: str) -> str:
    name = raw.strip().lower()
    if name not in WORKER_CLASSES:
        raise ValueError(f"expected one of {', '.join(WORKER_CLASSES)}")
    return name


@dataclasses.dataclass(frozen=True)
class ClientLimits:
    """How long and how much the worker waits for a client's request.

    ``read_timeout_s``: the time a request has to arrive whole (head and body) once its first
    byte is expected; a client still sending after it gets a 408 and is disconnected.
    ``buffer_bytes``: bodies up to this size are received without a thread; a larger declared
    body goes to a thread at once (the application refuses it by its ``Content-Length``).
    """

    read_timeout_s: float = 5.0
    buffer_bytes: int = 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientLimits:
        env = EnvReader(environ)
        limits = cls.from_reader(env)
        env.finish()
        return limits

    @classmethod
    def from_reader(cls, env: EnvReader) -> ClientLimits:
        return cls(
            read_timeout_s=env("CLIENT_READ_TIMEOUT", bounded(float, 0.5, 300), 5.0),
            buffer_bytes=env(
                "CLIENT_BUFFER_BYTES", bounded_int(16 * 1024, 16 * 1024**2), 1024 * 1024
            ),
        )


def bind_host() -> str:
    """The address the services listen on (HTTP and the metrics exporter).

    Loopback unless told otherwise: a laptop or a CI host must not expose the services to its
    network. The images set MLC_BIND_HOST=0.0.0.0, where the pod network and its
    NetworkPolicies decide who may connect.
    """
    return os.environ.get("MLC_BIND_HOST", "127.0.0.1")


def metrics_directory(service: str, worker_tmp_dir: str) -> tuple[str, bool]:
    """(the multiprocess metrics directory, whether this master owns it).

    The operator's ``PROMETHEUS_MULTIPROC_DIR`` when set; otherwise one per master process, so
    two servers on one host (tests, a laptop) never wipe each other's counts.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        return given, False
    return os.path.join(worker_tmp_dir, f"mlc-metrics-{service}-{os.getpid()}"), True


def _on_starting(path: str) -> Any:
    def on_starting(server: Any) -> None:
        """Master start: an empty metrics directory (earlier runs' files would be summed in)."""
        os.makedirs(path, mode=0o700, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))

    return on_starting


def _child_exit(server: Any, worker: Any) -> None:
    """A worker exited: drop its live gauges (imported here, after the variable is set)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _on_exit(path: str, owned: bool) -> Any:
    def on_exit(server: Any) -> None:
        """Master stop: remove the directory it made for itself (an operator's one stays)."""
        if owned:
            shutil.rmtree(path, ignore_errors=True)

    return on_exit


def gunicorn_config(service: str, *, default_port: int) -> dict[str, Any]:
    """Settings for ``gunicorn -c python:<service>.gunicorn_conf``, overridable by ``MLC_*``."""
    port = int(os.environ.get("MLC_PORT", os.environ.get("PORT", default_port)))
    host = bind_host()
    level = os.environ.get("MLC_LOG_LEVEL", "INFO").upper()
    env = EnvReader()
    command_port = env.optional("COMMAND_PORT", _port)
    worker = env("WEB_WORKER_CLASS", _worker_class, "edge")
    ClientLimits.from_reader(env)  # read again by each worker; checked here to fail at start
    if command_port == port:
        env.problems.append(f"MLC_COMMAND_PORT={command_port} is the main port as well")
    env.finish()
    bind = [f"{host}:{port}"]
    if command_port is not None:
        bind.append(f"{host}:{command_port}")
    worker_tmp_dir = os.environ.get("MLC_WORKER_TMP_DIR", "/tmp")  # noqa: S108 - an emptyDir in k8s
    metrics_dir, owned = metrics_directory(service, worker_tmp_dir)
    return {
        "bind": bind,
        "workers": int(os.environ.get("MLC_WEB_WORKERS", "2")),
        "worker_class": WORKER_CLASSES[worker],
        "threads": int(os.environ.get("MLC_WEB_THREADS", "8")),
        "timeout": int(os.environ.get("MLC_WEB_TIMEOUT", "60")),
        "graceful_timeout": 30,
        "keepalive": 5,
        "max_requests": 2048,
        "max_requests_jitter": 128,
        "limit_request_line": LIMIT_REQUEST_LINE,
        "limit_request_fields": LIMIT_REQUEST_FIELDS,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
        "preload_app": False,
        # gunicorn 27's control socket would need a writable home or runtime directory, which a
        # read-only root file system does not have; the services do not use it.
        "control_socket_disable": True,
        "worker_tmp_dir": worker_tmp_dir,
        # Set by the master before it forks (gunicorn's raw_env), not here: reading this config
        # must not change the environment of whoever reads it.
        "raw_env": [f"{MULTIPROC_ENV}={metrics_dir}"],
        "on_starting": _on_starting(metrics_dir),
        "child_exit": _child_exit,
        "on_exit": _on_exit(metrics_dir, owned),
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": level.lower(),
        "logconfig_dict": gunicorn_logconfig(service, level),
        "proc_name": service,
    }


def serve(app: str, conf_module: str) -> None:
    """Replace this process with gunicorn serving ``app`` (``module:attribute``)."""
    argv = [sys.executable, "-m", "gunicorn", "-c", f"python:{conf_module}", app]
    os.execv(sys.executable, argv)  # noqa: S606 - fixed argv, no shell
