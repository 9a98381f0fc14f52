"""Fixtures for bc-gateway against the BC emulator (real HTTPS) and the real RabbitMQ.

One emulator runs for the session as a real HTTPS server with a test CA; it is reset before every
test and each test seeds its own company. The gateway is built exactly as in production
(``bootstrap.build_dependencies`` from ``MLC_*`` settings) with two test choices: the publisher
targets an isolated, declared topology and the secrets live in an encrypted file.

The emulator's responses carry its *emulated* clock in the ``Date`` header (see ``EmulatedBC``):
BC's ``Date`` is BC's clock, and the renewal job judges expiry by it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import os
import threading
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from factories import RECONCILER_KEY
from factories import SERVICE_SECRETS
from factories import authorized
from factories import delete_topology
from factories import free_port
from factories import join_threads_named
from factories import random_ref
from flask import Flask
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from bc_emulator import create_app as create_emulator
from bc_emulator.server import QuietRequestHandler
from bc_emulator.server import make_ssl_context
from bc_emulator.state import EXTENSION
from bc_emulator.state import Emulator
from bc_gateway import create_app
from bc_gateway.adapters import bc_json
from bc_gateway.bootstrap import Dependencies
from bc_gateway.bootstrap import build_dependencies
from bc_gateway.settings import Settings
from bc_gateway.subscriptions import ENTITIES
from bc_gateway.subscriptions import Outcome
from bc_gateway.subscriptions import renew_subscriptions
from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.identity import IDENTITY_PATH
from mlconnector.identity import TokenIssuer
from mlconnector.secrets_file import EncryptedFileSecrets
from reconciler.adapters.gateways import HttpBcGateway

pytestmark = pytest.mark.rabbitmq

TENANT = "5f1d2c3b-0a9e-4d8c-b7a6-112233445566"
BC = SERVICE_SECRETS["ml-connector/bc"]
SECRETS_PATH = "ml-connector/bc"


class EmulatedBC:
    """The BC emulator over HTTPS on 127.0.0.1 whose ``Date`` header is the emulated clock.

    ``bc_emulator.server.EmulatedBC`` serves the same app, but http.server stamps every
    response with the real time; BC's ``Date`` is BC's clock, and the renewal job judges expiry
    by it, so time travel must show there too.
    """

    def __init__(self, config: dict[str, Any], ca_file: Path) -> None:
        self.app = create_emulator(config)
        self.ca_file = str(ca_file)
        clock = self.emulator.clock

        class Handler(QuietRequestHandler):
            def date_time_string(self, timestamp: float | None = None) -> str:
                return email.utils.format_datetime(clock.now(), usegmt=True)

        self.server: BaseWSGIServer = make_server(
            "127.0.0.1",
            0,
            self.app,
            threaded=True,
            ssl_context=make_ssl_context(ca_file),
            request_handler=Handler,
        )
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.daemon = True
        self.thread.start()

    @property
    def emulator(self) -> Emulator:
        emulator: Emulator = self.app.extensions[EXTENSION]
        return emulator

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_port}"

    @property
    def admin(self) -> str:
        return f"{self.base_url}/_emulator"

    def authority(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.emulator.close()


@pytest.fixture(scope="session")
def bc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatedBC]:
    """The BC emulator over HTTPS, knowing our app registration."""
    ca_file = tmp_path_factory.mktemp("bc-ca") / "bc-ca.pem"
    config = {
        "test_mode": True,
        "clients": [
            {"tenant": TENANT, "client_id": BC["client_id"], "client_secret": BC["client_secret"]}
        ],
    }
    server = EmulatedBC(config, ca_file)
    yield server
    server.stop()


@dataclass
class Admin:
    """The emulator's admin API (``/_emulator``), for seeding and steering."""

    bc: EmulatedBC
    session: requests.Session

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else bc_json.dumps(body)
        response = self.session.request(
            method,
            f"{self.bc.admin}/{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        assert response.status_code < 300, response.text
        return bc_json.loads(response.content)

    def config(self, **changes: Any) -> Any:
        return self.call("PATCH", "config", changes)

    def fault(self, **rule: Any) -> Any:
        return self.call("POST", "faults", rule)

    def faults(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "faults")["value"])

    def advance(self, seconds: float) -> Any:
        return self.call("POST", "clock/advance", {"seconds": int(seconds)})


@pytest.fixture
def admin(bc: EmulatedBC) -> Iterator[Admin]:
    """A reset emulator and its admin API."""
    with requests.Session() as session:
        session.verify = bc.ca_file
        session.trust_env = False
        helper = Admin(bc, session)
        helper.call("POST", "reset")
        yield helper


@dataclass(frozen=True)
class Company:
    """A seeded company: ids of the company, a USD customer, a EUR customer, G/L accounts."""

    id: str
    customer_id: str
    eur_customer_id: str
    accounts: dict[str, str]

    def seed(self, admin: Admin, what: str, body: Any) -> Any:
        return admin.call("POST", f"companies/{self.id}/{what}", body)


@pytest.fixture
def company(admin: Admin) -> Company:
    """A company with the emulator's default chart (10900 is the clearing account)."""
    setup = admin.call("POST", "companies", {"tenant": TENANT, "environment": "production"})
    cid = setup["id"]
    admin.call(
        "POST",
        f"companies/{cid}/currencies",
        {"code": "EUR", "displayName": "Euro", "exchangeRate": Decimal("1.1")},
    )
    usd = admin.call(
        "POST",
        f"companies/{cid}/customers",
        {"number": "C10000", "displayName": "Adatum Corporation", "email": "ap@adatum.example"},
    )
    eur = admin.call(
        "POST",
        f"companies/{cid}/customers",
        {"number": "C20000", "displayName": "Trey Research", "currencyCode": "EUR"},
    )
    return Company(cid, usd["id"], eur["id"], dict(setup["accounts"]))


@pytest.fixture(scope="session")
def secrets_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An encrypted secrets file holding the bc-gateway secrets: (path, master key)."""
    master_key = "test-master-key-" + random_ref("k")
    path = tmp_path_factory.mktemp("bc-gw-secrets") / "secrets.enc"
    store = EncryptedFileSecrets(path, master_key)
    store.write(SECRETS_PATH, BC)
    store.write(IDENTITY_PATH, SERVICE_SECRETS[IDENTITY_PATH])
    return path, master_key


@pytest.fixture(scope="session")
def store(secrets_file: tuple[Path, str]) -> EncryptedFileSecrets:
    """The secret store over that file (one instance: scrypt runs once per session)."""
    return EncryptedFileSecrets(*secrets_file)


@pytest.fixture
def exchange() -> str:
    """Where the gateway publishes; modules that check the bus override this with a topology."""
    return "mlc.events.bc-gateway-tests-do-not-publish"


def gateway_env(
    bc: EmulatedBC,
    company: Company,
    secrets_file: tuple[Path, str],
    amqp_url: str,
    **extra: str,
) -> dict[str, str]:
    """``MLC_*`` variables that point a gateway (in-process or a real process) at the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
    env.update(
        {
            "MLC_ENVIRONMENT": "test",
            "MLC_AMQP_URL": amqp_url,
            "MLC_SECRETS_BACKEND": "file",
            "MLC_SECRETS_FILE": str(secrets_file[0]),
            "MLC_MASTER_KEY": secrets_file[1],
            "MLC_BC_TENANT_ID": TENANT,
            "MLC_BC_ENVIRONMENT": "production",
            "MLC_BC_COMPANY_ID": company.id,
            "MLC_BC_API_BASE": bc.base_url,
            "MLC_BC_AUTHORITY_HOST": bc.base_url,
            "MLC_BC_CA_BUNDLE": bc.ca_file,
            "MLC_BC_CLEARING_ACCOUNT": "10900",
            "MLC_BC_RETRY_BUDGET": "10",
            "MLC_BC_SECRET_TTL": "60",
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def env(
    bc: EmulatedBC, company: Company, secrets_file: tuple[Path, str], amqp_url: str
) -> dict[str, str]:
    """The gateway's environment for this test."""
    return gateway_env(bc, company, secrets_file, amqp_url)


@pytest.fixture
def namespace(amqp_url: str) -> Iterator[Topology]:
    """A bus namespace the gateway processes declare on first publish; deleted afterwards."""
    name = random_ref("bcgw")
    yield Topology.isolated(name)
    delete_topology(amqp_url, Topology.isolated(name))


@pytest.fixture
def make_deps(
    env: dict[str, str], exchange: str, amqp_url: str, store: EncryptedFileSecrets
) -> Iterator[Any]:
    """Build gateway dependencies like production, publishing to ``exchange``."""
    built: list[Dependencies] = []

    def _make(**overrides: str) -> Dependencies:
        settings = Settings.from_env({**env, **overrides})
        publisher = Publisher(amqp_url, exchange=exchange, client_name="bc-gw-test")
        deps = build_dependencies(settings, publisher=publisher, secret_store=store)
        built.append(deps)
        return deps

    yield _make
    for deps in built:
        deps.publisher.close()


@pytest.fixture
def deps(make_deps: Any) -> Dependencies:
    """Default gateway dependencies."""
    result: Dependencies = make_deps()
    return result


@pytest.fixture
def client(deps: Dependencies) -> Any:
    """A Flask test client of the gateway app, calling as the reconciler."""
    return authorized(create_app(deps=deps).test_client(), "bc-gateway")


class LiveGateway:
    """The gateway app served by werkzeug on 127.0.0.1 (the emulator can call it)."""

    def __init__(self, app: Flask) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.daemon = True
        self.thread.start()

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/webhooks/bc"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def live_gateway(deps: Dependencies) -> Iterator[LiveGateway]:
    """The gateway as a real HTTP server in a thread."""
    gateway = LiveGateway(create_app(deps=deps))
    yield gateway
    gateway.stop()


@dataclass
class ServedGateway:
    """A gateway app served on a loopback port whose notification URL is its own webhook, and
    the reconciler's adapter for it (as the console asks it)."""

    deps: Dependencies
    base: str
    url: str  # its webhook (the notification URL BC is given)

    def adapter(self, key: Any = RECONCILER_KEY) -> HttpBcGateway:
        return HttpBcGateway(self.base, authorization=TokenIssuer(key.to_json).authorization)

    def subscribe(self, *entities: str, url: str | None = None) -> list[Outcome]:
        """Create our subscriptions as ``renew-subscriptions`` does (BC calls the webhook)."""
        assert self.deps.bc is not None
        outcomes, _ = renew_subscriptions(
            self.deps.bc,
            notification_url=url or self.url,
            client_state=self.deps.client_states.current(),
            margin=dt.timedelta(hours=24),
            entities=entities or ENTITIES,
        )
        return outcomes

    def get(self, path: str, authorization: str | None) -> requests.Response:
        headers = {} if authorization is None else {"Authorization": authorization}
        return requests.get(self.base + path, headers=headers, timeout=30)


@pytest.fixture
def serve(make_deps: Any) -> Iterator[Callable[..., ServedGateway]]:
    """``serve(env, **replace)``: a served gateway; ``env`` adds ``MLC_*`` settings, ``replace``
    swaps parts of its dependencies (a token provider with another secret, say)."""
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def _serve(env: dict[str, str] | None = None, **replace: Any) -> ServedGateway:
        port = free_port()
        url = f"http://127.0.0.1:{port}/webhooks/bc"
        deps = make_deps(MLC_BC_NOTIFICATION_URL=url, **(env or {}))
        if replace:
            deps = dataclasses.replace(deps, **replace)
        server = make_server("127.0.0.1", port, create_app(deps=deps), threaded=True)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return ServedGateway(deps, f"http://127.0.0.1:{port}", url)

    yield _serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    # A check past its deadline still waits for BC: let it end before the next test measures.
    assert join_threads_named("connection-check") == []
