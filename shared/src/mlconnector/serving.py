"""Gunicorn settings shared by the HTTP services, and the ``serve`` command that starts them.

Each service keeps a tiny ``gunicorn_conf`` module inside its package (so it ships in the
wheel and the image) that calls ``gunicorn_config``. Workers are ``gthread``: request threads
wait on publisher confirms while the process's single publisher I/O thread keeps many confirms
in flight. ``preload_app`` stays off: pika connections, SQLAlchemy engines and MSAL apps must be
created after the fork, and our factories only create them lazily anyway.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mlconnector.logging import gunicorn_logconfig


def gunicorn_config(service: str, *, default_port: int) -> dict[str, Any]:
    """Settings for ``gunicorn -c python:<service>.gunicorn_conf``, overridable by ``MLC_*``."""
    port = int(os.environ.get("MLC_PORT", os.environ.get("PORT", default_port)))
    host = os.environ.get("MLC_BIND_HOST", "0.0.0.0")  # noqa: S104 - containers listen on all
    level = os.environ.get("MLC_LOG_LEVEL", "INFO").upper()
    return {
        "bind": f"{host}:{port}",
        "workers": int(os.environ.get("MLC_WEB_WORKERS", "2")),
        "worker_class": "gthread",
        "threads": int(os.environ.get("MLC_WEB_THREADS", "8")),
        "timeout": int(os.environ.get("MLC_WEB_TIMEOUT", "60")),
        "graceful_timeout": 30,
        "keepalive": 5,
        "max_requests": 2048,
        "max_requests_jitter": 128,
        "preload_app": False,
        # gunicorn 27's control socket would need a writable home or runtime directory, which a
        # read-only root file system does not have; the services do not use it.
        "control_socket_disable": True,
        "worker_tmp_dir": os.environ.get("MLC_WORKER_TMP_DIR", "/tmp"),  # noqa: S108 - an emptyDir in k8s
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
