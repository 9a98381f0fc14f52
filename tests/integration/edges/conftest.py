"""Real services under gunicorn, reached over raw sockets: what a hostile client would do.

Each service runs exactly as in production (``<service> serve``: gunicorn with the
configuration of ``mlconnector.serving``), on 127.0.0.1, against the real RabbitMQ, with an
encrypted secrets file and an isolated bus namespace deleted afterwards. Its JSON log lines go
to a file the tests read, so a test can say "exactly one WARNING with this correlation id" or
"no ERROR at all".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from factories import delete_topology
from factories import random_ref

from mlc_local.processes import Process
from mlc_local.processes import free_port
from mlc_local.processes import wait_ready
from mlconnector.bus import Topology
from mlconnector.secrets_file import EncryptedFileSecrets

WEBHOOK_SECRET = SERVICE_SECRETS["ml-connector/stripe"]["webhook_secret"]
REPLAY_TOKEN = SERVICE_SECRETS["ml-connector/reconciler"]["replay_token"]


class Served:
    """One service process: its URL, its port, and its log as parsed JSON lines."""

    def __init__(self, process: Process, port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.process.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"level": "RAW", "message": raw})
        return lines

    def lines_with(self, text: str) -> list[dict[str, Any]]:
        """Log lines whose message or correlation id contains ``text``."""
        return [
            line
            for line in self.log_lines()
            if text in str(line.get("message", "")) or text == line.get("correlation_id")
        ]

    def wait_for_line(self, text: str, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The lines with ``text``, once at least one was written (log writes are async)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.lines_with(text)
            if found:
                return found
            time.sleep(0.05)
        return []


@pytest.fixture(scope="module")
def edge_env(tmp_path_factory: pytest.TempPathFactory, amqp_url: str) -> Iterator[dict[str, str]]:
    """Environment shared by the module's services: secrets, SQLite, an isolated bus."""
    from reconciler.migrate import upgrade

    workdir = tmp_path_factory.mktemp("edges")
    master_key = "test-master-key-" + random_ref("k")
    store = EncryptedFileSecrets(workdir / "secrets.enc", master_key)
    for path, values in SERVICE_SECRETS.items():
        store.write(path, values)
    database_url = f"sqlite:///{workdir / 'reconciler.db'}"
    upgrade(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
    env.update(
        {
            "MLC_ENVIRONMENT": "test",
            "MLC_AMQP_URL": amqp_url,
            "MLC_BUS_NAMESPACE": random_ref("edge"),
            "MLC_SECRETS_BACKEND": "file",
            "MLC_SECRETS_FILE": str(workdir / "secrets.enc"),
            "MLC_MASTER_KEY": master_key,
            "MLC_DATABASE_URL": database_url,
            "MLC_BIND_HOST": "127.0.0.1",
            "MLC_WEB_WORKERS": "1",
            "MLC_LOG_LEVEL": "INFO",
        }
    )
    yield env
    delete_topology(amqp_url, Topology.isolated(env["MLC_BUS_NAMESPACE"]))


StartService = Callable[..., Served]


@pytest.fixture(scope="module")
def start_service(
    edge_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartService]:
    """``start_service("stripe-gateway", MLC_X="y")``: a served process, stopped with the module."""
    started: list[Process] = []
    log_dir: Path = tmp_path_factory.mktemp("logs")

    def start(service: str, **extra_env: str) -> Served:
        port = free_port()
        env = {**edge_env, **extra_env, "MLC_PORT": str(port)}
        name = f"{service}-{port}"
        process = Process(name, [service, "serve"], env, log_dir)
        started.append(process)
        wait_ready(f"http://127.0.0.1:{port}", process)
        return Served(process, port)

    yield start
    for process in started:
        process.stop()


def signed_delivery(payload: bytes) -> dict[str, str]:
    """Headers of a genuine Stripe delivery of ``payload`` (signed with the test secret)."""
    now = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{now}.".encode() + payload, hashlib.sha256)
    return {"Content-Type": "application/json", "Stripe-Signature": f"t={now},v1={mac.hexdigest()}"}


def stripe_event(event_type: str = "invoice.paid") -> bytes:
    """A Stripe event body as Stripe sends it (pretty-printed, with newlines)."""
    ref = random_ref("x").replace("-", "")
    event = {
        "id": f"evt_{ref}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": {"id": f"in_{ref}", "object": "invoice", "total": 1000}},
        "livemode": False,
        "type": event_type,
    }
    return json.dumps(event, indent=2).encode()


def exchange(port: int, request: bytes, *, timeout_s: float = 30.0) -> bytes:
    """Send raw bytes, read until the server closes (every refusal here closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers, body


class EdgeKit:
    """Helpers handed to tests as the ``kit`` fixture (test modules cannot import conftest)."""

    WEBHOOK_SECRET = WEBHOOK_SECRET
    REPLAY_TOKEN = REPLAY_TOKEN
    signed_delivery = staticmethod(signed_delivery)
    stripe_event = staticmethod(stripe_event)
    exchange = staticmethod(exchange)
    parse_response = staticmethod(parse_response)


@pytest.fixture
def kit() -> type[EdgeKit]:
    return EdgeKit
