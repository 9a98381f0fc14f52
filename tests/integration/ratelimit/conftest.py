"""Fixtures for the rate-limit tests: the three service apps as production builds them, and Redis.

Each app comes from its real ``create_app`` reading ``MLC_*`` variables (secrets in an encrypted
file, an isolated bus namespace, a migrated SQLite file for the reconciler), so the limiter is
wired exactly as ``wsgi.py`` wires it. Counters live in memory unless a test points
``MLC_RATELIMIT_STORAGE`` at the real Redis (``redis_store``), where every test gets its own key
prefix and its keys are deleted afterwards. Redis is never optional: unreachable means a failed
run with a message saying what to start, never a skip (style.md §5).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import time
import urllib.parse
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from factories import SERVICE_SECRETS
from factories import delete_topology
from factories import random_ref
from flask import Flask
from flask.testing import FlaskClient

from bc_gateway import create_app as create_bc_gateway
from bc_gateway.bootstrap import build_dependencies as build_bc_dependencies
from bc_gateway.settings import Settings as BcSettings
from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.secrets_file import EncryptedFileSecrets
from reconciler.api import create_app as create_reconciler_api
from reconciler.migrate import upgrade
from stripe_gateway import create_app as create_stripe_gateway

REDIS_URL = os.environ.get("MLC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MASTER_KEY = "test-master-key-ratelimit"
WEBHOOK_SECRET = SERVICE_SECRETS["ml-connector/stripe"]["webhook_secret"]
CLIENT_STATE = SERVICE_SECRETS["ml-connector/bc"]["client_state"]
REPLAY_TOKEN = SERVICE_SECRETS["ml-connector/reconciler"]["replay_token"]
COMPANY = "7dbba574-5f69-4167-a43e-fb975045de15"

# BC retries these and deletes the subscription on every other status (bc-api.md §7.6).
BC_RETRIES = frozenset({408, 429})


def sign(payload: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it: HMAC-SHA256 over ``t.body``."""
    t = int(time.time())
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


def stripe_event() -> bytes:
    """A handled Stripe event with a fresh id (the gateway publishes it)."""
    event = {
        "id": "evt_" + random_ref("e").replace("-", ""),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {
            "object": {"id": "in_" + random_ref("i").replace("-", ""), "object": "invoice"},
            "previous_attributes": None,
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "invoice.paid",
    }
    return json.dumps(event).encode()


def bc_notification(client_state: str | None = CLIENT_STATE) -> bytes:
    """One BC notification for a sales invoice (published as is, no BC call needed)."""
    element = {
        "subscriptionId": "c670ea73cacb459bb51dc1740da2f1db",
        "clientState": client_state,
        "expirationDateTime": "2026-11-27T12:50:30Z",
        "resource": f"api/v2.0/companies({COMPANY})/salesInvoices({random_ref('x')[2:]})",
        "changeType": "updated",
        "lastModifiedDateTime": "2026-11-24T12:54:26.057Z",
    }
    return json.dumps({"value": [element]}).encode()


def from_address(address: str, **headers: str) -> dict[str, Any]:
    """Request options for a client at ``address`` (the socket peer the app sees)."""
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": headers}


class Kit:
    """Helpers handed to tests as the ``kit`` fixture (test modules cannot import conftest)."""

    WEBHOOK_SECRET = WEBHOOK_SECRET
    CLIENT_STATE = CLIENT_STATE
    REPLAY_TOKEN = REPLAY_TOKEN
    BC_RETRIES = BC_RETRIES
    sign = staticmethod(sign)
    stripe_event = staticmethod(stripe_event)
    bc_notification = staticmethod(bc_notification)
    from_address = staticmethod(from_address)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server the shared-store tests use; fails the run when it does not answer."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        where = urllib.parse.urlsplit(REDIS_URL).netloc.split("@")[-1]
        pytest.fail(
            f"Redis is not reachable at {where} ({exc}): start it (scripts/test.sh does, see "
            "ensure_redis in scripts/lib.sh) or set MLC_TEST_REDIS_URL; these tests never skip.",
            pytrace=False,
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[dict[str, str]]:
    """``MLC_*`` variables putting the counters in Redis under a prefix of this test's own."""
    prefix = random_ref("rl")
    yield {"MLC_RATELIMIT_STORAGE": redis_url, "MLC_RATELIMIT_KEY_PREFIX": prefix}
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per module; each reconciler test copies it."""
    path = tmp_path_factory.mktemp("ratelimit-db") / "reconciler.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def base_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, amqp_url: str, template_db: Path
) -> Iterator[dict[str, str]]:
    """A clean ``MLC_*`` environment every app of the test starts from; its bus is deleted."""
    for name in list(os.environ):
        if name.startswith("MLC_") and not name.startswith("MLC_TEST_"):
            monkeypatch.delenv(name)
    secrets_file = tmp_path / "secrets.enc"
    store = EncryptedFileSecrets(secrets_file, MASTER_KEY)
    for path, values in SERVICE_SECRETS.items():
        store.write(path, values)
    database = tmp_path / "reconciler.db"
    shutil.copyfile(template_db, database)
    namespace = random_ref("rl")
    yield {
        "MLC_ENVIRONMENT": "test",
        "MLC_AMQP_URL": amqp_url,
        "MLC_BUS_NAMESPACE": namespace,
        "MLC_SECRETS_BACKEND": "file",
        "MLC_SECRETS_FILE": str(secrets_file),
        "MLC_MASTER_KEY": MASTER_KEY,
        "MLC_DATABASE_URL": f"sqlite:///{database}",
    }
    # The gateways declare their namespace's quorum queues on first publish: remove them.
    delete_topology(amqp_url, Topology.isolated(namespace))


AppFactory = Callable[..., FlaskClient]


def _apply(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in [n for n in os.environ if n.startswith("MLC_RATELIMIT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def stripe_gateway(
    monkeypatch: pytest.MonkeyPatch, base_env: dict[str, str]
) -> Iterator[AppFactory]:
    """``make(**env)``: a stripe-gateway test client built from ``base_env`` plus ``env``."""
    apps: list[Flask] = []

    def make(**env: str) -> FlaskClient:
        _apply(monkeypatch, {**base_env, **env})
        app = create_stripe_gateway()
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["stripe_gateway"].publisher.close()


@pytest.fixture
def bc_gateway(
    monkeypatch: pytest.MonkeyPatch, base_env: dict[str, str], amqp_url: str
) -> Iterator[AppFactory]:
    """``make(**env)``: a bc-gateway test client, without a BC connection (none is needed)."""
    topology = Topology.isolated(base_env["MLC_BUS_NAMESPACE"])
    publishers: list[Publisher] = []

    def make(**env: str) -> FlaskClient:
        _apply(monkeypatch, {**base_env, **env})
        settings = BcSettings.from_env()
        publisher = Publisher(
            amqp_url, exchange=topology.exchange, topology=topology, client_name="rl-test"
        )
        publishers.append(publisher)
        deps = build_bc_dependencies(settings, publisher=publisher)
        return create_bc_gateway(deps=deps).test_client()

    yield make
    for publisher in publishers:
        publisher.close()


@pytest.fixture
def reconciler_api(
    monkeypatch: pytest.MonkeyPatch, base_env: dict[str, str]
) -> Iterator[AppFactory]:
    """``make(**env)``: a reconciler API test client on this test's SQLite copy."""
    apps: list[Flask] = []

    def make(**env: str) -> FlaskClient:
        _apply(monkeypatch, {**base_env, **env})
        app = create_reconciler_api()
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        deps = app.extensions["reconciler"]
        deps.publisher.close()
        deps.engine.dispose()
