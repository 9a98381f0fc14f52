"""Fixtures for the metrics tests: the real apps on the emulators, the broker and the databases.

Each gateway is built as in production (settings from ``MLC_*`` variables, ``build_dependencies``
with the real publisher, the encrypted-file secret store, the stripe SDK or the BC client) and
pointed at the emulators over real HTTP(S) and at an isolated copy of the bus topology, declared
for the module and deleted after it. The tests scrape ``/metrics`` before and after an event
and check the difference, since counters live for the whole test process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
import requests
from factories import SERVICE_SECRETS
from factories import delete_topology
from factories import free_port
from factories import join_threads_named
from factories import random_ref
from flask import Flask
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from bc_emulator.server import EmulatorServer as BcEmulator
from bc_gateway.adapters import bc_json
from bc_gateway.bootstrap import Dependencies as BcDependencies
from bc_gateway.bootstrap import build_dependencies as build_bc_dependencies
from bc_gateway.settings import Settings as BcSettings
from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.secrets_file import EncryptedFileSecrets
from stripe_emulator.server import EmulatorServer as StripeEmulator

TENANT = "5f1d2c3b-0a9e-4d8c-b7a6-112233445566"
BC = SERVICE_SECRETS["ml-connector/bc"]
STRIPE = SERVICE_SECRETS["ml-connector/stripe"]
MASTER_KEY = "test-master-key-" + random_ref("metrics")


@pytest.fixture(autouse=True)
def quiet_process() -> None:
    """No connection check left running by an earlier test moves the counters measured here."""
    assert join_threads_named("connection-check") == []


@pytest.fixture(scope="session")
def secrets_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An encrypted secrets file with every service's secrets."""
    path = tmp_path_factory.mktemp("metrics-secrets") / "secrets.enc"
    store = EncryptedFileSecrets(path, MASTER_KEY)
    for secret_path, values in SERVICE_SECRETS.items():
        store.write(secret_path, values)
    return path


@pytest.fixture(scope="session")
def store(secrets_path: Path) -> EncryptedFileSecrets:
    return EncryptedFileSecrets(secrets_path, MASTER_KEY)


@pytest.fixture(scope="module")
def namespace(amqp_url: str) -> Iterator[str]:
    """A bus namespace whose topology is declared for the module and deleted after it."""
    name = random_ref("metrics")
    topology = Topology.isolated(name)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        topology.declare(connection.channel())
    finally:
        connection.close()
    yield name
    delete_topology(amqp_url, topology)


def base_env(amqp_url: str, namespace: str, secrets_path: Path) -> dict[str, str]:
    """``MLC_*`` variables every service here shares."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
    env.update(
        {
            "MLC_ENVIRONMENT": "test",
            "MLC_AMQP_URL": amqp_url,
            "MLC_BUS_NAMESPACE": namespace,
            "MLC_SECRETS_BACKEND": "file",
            "MLC_SECRETS_FILE": str(secrets_path),
            "MLC_MASTER_KEY": MASTER_KEY,
        }
    )
    return env


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Make ``env``'s ``MLC_*`` variables (and only those) this process's."""
    for name in [n for n in os.environ if n.startswith("MLC_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("MLC_"):
            monkeypatch.setenv(name, value)


@pytest.fixture
def environ(amqp_url: str, namespace: str, secrets_path: Path) -> dict[str, str]:
    """The shared ``MLC_*`` variables (broker, module's bus namespace, secrets file)."""
    return base_env(amqp_url, namespace, secrets_path)


@pytest.fixture
def set_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """``set_env(env)``: this process's ``MLC_*`` variables become ``env``'s, for the test."""
    return lambda env: use_env(monkeypatch, env)


class LiveApp:
    """A Flask app served by werkzeug on 127.0.0.1 (a real socket, for real HTTP clients)."""

    def __init__(self, app: Flask, port: int = 0) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.daemon = True
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveApp]]:
    """``serve(app, port=0)``: the app on a real socket, stopped after the test."""
    started: list[LiveApp] = []

    def start(app: Flask, port: int = 0) -> LiveApp:
        live = LiveApp(app, port)
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


# -- Stripe ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[StripeEmulator]:
    with StripeEmulator({"rate_limit": 0}) as server:
        yield server


@pytest.fixture
def emu(stripe_server: StripeEmulator) -> StripeEmulator:
    stripe_server.reset()
    return stripe_server


@pytest.fixture
def stripe_env(
    amqp_url: str, namespace: str, secrets_path: Path, emu: StripeEmulator
) -> dict[str, str]:
    return {**base_env(amqp_url, namespace, secrets_path), "MLC_STRIPE_API_BASE": emu.base_url}


@pytest.fixture
def make_stripe_app(
    monkeypatch: pytest.MonkeyPatch, stripe_env: dict[str, str]
) -> Iterator[Callable[..., Flask]]:
    """``make_stripe_app(MLC_X="y")``: the stripe-gateway app as ``wsgi.py`` builds it."""
    from stripe_gateway import create_app

    built: list[Flask] = []

    def make(**extra: str) -> Flask:
        use_env(monkeypatch, {**stripe_env, **extra})
        app = create_app()
        built.append(app)
        return app

    yield make
    for app in built:
        app.extensions["stripe_gateway"].publisher.close()


# -- Business Central --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def bc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BcEmulator]:
    config = {
        "test_mode": True,
        "clients": [
            {"tenant": TENANT, "client_id": BC["client_id"], "client_secret": BC["client_secret"]}
        ],
    }
    ca_file = tmp_path_factory.mktemp("metrics-bc-ca") / "ca.pem"
    with BcEmulator(config, ca_file=ca_file) as server:
        yield server


@dataclass
class BcAdmin:
    """The BC emulator's admin API, reset for the test, and the company it seeded."""

    server: BcEmulator
    session: requests.Session
    company_id: str = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(
            method,
            f"{self.server.admin}/{path}",
            data=None if body is None else bc_json.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code < 300, response.text
        return bc_json.loads(response.content)

    def fault(self, **rule: Any) -> Any:
        return self.call("POST", "faults", rule)


@pytest.fixture
def bc_admin(bc_server: BcEmulator) -> Iterator[BcAdmin]:
    with requests.Session() as session:
        session.verify = bc_server.ca_file
        session.trust_env = False
        admin = BcAdmin(bc_server, session)
        admin.call("POST", "reset")
        company = admin.call("POST", "companies", {"tenant": TENANT, "environment": "production"})
        admin.company_id = company["id"]
        yield admin


@pytest.fixture
def bc_env(
    amqp_url: str, namespace: str, secrets_path: Path, bc_server: BcEmulator, bc_admin: BcAdmin
) -> dict[str, str]:
    return {
        **base_env(amqp_url, namespace, secrets_path),
        "MLC_BC_TENANT_ID": TENANT,
        "MLC_BC_ENVIRONMENT": "production",
        "MLC_BC_COMPANY_ID": bc_admin.company_id,
        "MLC_BC_API_BASE": bc_server.base_url,
        "MLC_BC_AUTHORITY_HOST": bc_server.base_url,
        "MLC_BC_CA_BUNDLE": bc_server.ca_file,
        "MLC_BC_CLEARING_ACCOUNT": "10900",
        "MLC_BC_RETRY_BUDGET": "10",
    }


@pytest.fixture
def make_bc_deps(
    bc_env: dict[str, str], amqp_url: str, namespace: str, store: EncryptedFileSecrets
) -> Iterator[Callable[..., BcDependencies]]:
    """``make_bc_deps(MLC_X="y")``: bc-gateway's dependencies, publishing to the module's bus."""
    built: list[BcDependencies] = []
    topology = Topology.isolated(namespace)

    def make(**extra: str) -> BcDependencies:
        settings = BcSettings.from_env({**bc_env, **extra})
        publisher = Publisher(amqp_url, exchange=topology.exchange, client_name="metrics-test")
        deps = build_bc_dependencies(settings, publisher=publisher, secret_store=store)
        built.append(deps)
        return deps

    yield make
    for deps in built:
        deps.publisher.close()


@pytest.fixture
def port() -> int:
    """A free loopback port (for a server whose URL must be known before it starts)."""
    return free_port()
