"""Fixtures for stripe-gateway: the Stripe emulator over HTTP, an isolated bus, a secrets file.

The gateway is built exactly as in production (``create_app()`` reading ``MLC_*`` variables,
``build_dependencies`` with the real publisher, the encrypted-file secret store and the stripe
SDK), only pointed at the emulator and at an isolated copy of the bus topology whose queue a
test can count.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
import stripe
from factories import SERVICE_SECRETS
from factories import authorized
from factories import delete_topology
from factories import random_ref
from flask import Flask
from flask.testing import FlaskClient

from mlconnector.bus import Topology
from mlconnector.identity import IDENTITY_PATH
from mlconnector.secrets_file import EncryptedFileSecrets
from stripe_emulator.server import EmulatorServer
from stripe_gateway import create_app
from stripe_gateway.services import invoices as invoice_service
from stripe_gateway.services.invoices import InvoiceLine
from stripe_gateway.services.invoices import PushInvoice

STRIPE_PATH = "ml-connector/stripe"
WEBHOOK_SECRET = SERVICE_SECRETS[STRIPE_PATH]["webhook_secret"]
API_KEY = SERVICE_SECRETS[STRIPE_PATH]["api_key"]


def sign(payload: bytes, secrets: list[str] | str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header with one ``v1`` per secret (what Stripe sends)."""
    t = int(time.time()) if timestamp is None else timestamp
    keys = [secrets] if isinstance(secrets, str) else secrets
    signed = f"{t}.".encode() + payload
    v1 = [hmac.new(k.encode(), signed, hashlib.sha256).hexdigest() for k in keys]
    return ",".join([f"t={t}", *(f"v1={sig}" for sig in v1)])


def make_event(event_type: str = "invoice.paid", **overrides: Any) -> dict[str, Any]:
    """A Stripe event in the shape the emulator and Stripe deliver."""
    object_id = "in_" + random_ref("x").replace("-", "")
    event: dict[str, Any] = {
        "id": "evt_" + random_ref("e").replace("-", ""),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {
            "object": {"id": object_id, "object": "invoice", "total": 1000, "currency": "usd"},
            "previous_attributes": None,
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    event.update(overrides)
    return event


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()


def invoice_command(customer: str, **overrides: Any) -> dict[str, Any]:
    """A ``POST /commands/invoices`` body for a USD invoice of three lines (one a discount)."""
    body: dict[str, Any] = {
        "bc_company_id": "c0mpany-" + random_ref("c"),
        "bc_invoice_id": "inv-" + random_ref("i"),
        "bc_invoice_number": "PSI-1001",
        "bc_customer_number": "C0001",
        "stripe_customer_id": customer,
        "currency": "USD",
        "days_until_due": 30,
        "metadata": {"bc_environment": "production"},
        "lines": [
            {"description": "Consulting, 10 h", "amount_minor": 150000, "quantity": 10},
            {"description": "Travel", "amount_minor": 23050},
            {"description": "Invoice discount", "amount_minor": -5000},
        ],
        "expected_total_minor": 168050,
    }
    body.update(overrides)
    return body


def push_command(body: dict[str, Any]) -> PushInvoice:
    """The service-level command for a request body (as the schema would load it)."""
    return PushInvoice(
        **{
            **body,
            "currency": body["currency"].lower(),
            "lines": tuple(InvoiceLine(**line) for line in body["lines"]),
        }
    )


def crash_after_lines(app: Flask, body: dict[str, Any]) -> Any:
    """Run the first two steps of a push, as an attempt that crashed before finalizing."""
    cmd = push_command(body)
    stripe_client = app.extensions["stripe_gateway"].stripe
    draft, created = invoice_service.create_draft(stripe_client, cmd, cmd.currency)
    assert created
    return invoice_service.add_lines(stripe_client, cmd, draft)


def stripe_invoices(emu: EmulatorServer) -> list[dict[str, Any]]:
    return list(emu.admin("GET", "objects/invoice")["data"])


def seed_charges(
    emu: EmulatorServer, count: int, since: int, until: int, *, events: bool = True
) -> dict[str, Any]:
    """``count`` succeeded charges created in ``[since, until)`` (with their events), fast."""
    body = {"count": count, "since": since, "until": until, "events": events}
    result: dict[str, Any] = emu.admin("POST", "bulk/charges", body)
    return result


class Kit:
    """Helpers handed to tests as the ``kit`` fixture (test modules cannot import conftest)."""

    STRIPE_PATH = STRIPE_PATH
    WEBHOOK_SECRET = WEBHOOK_SECRET
    API_KEY = API_KEY
    sign = staticmethod(sign)
    make_event = staticmethod(make_event)
    body_of = staticmethod(body_of)
    invoice_command = staticmethod(invoice_command)
    push_command = staticmethod(push_command)
    crash_after_lines = staticmethod(crash_after_lines)
    stripe_invoices = staticmethod(stripe_invoices)
    seed_charges = staticmethod(seed_charges)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
def customer(emu: EmulatorServer) -> str:
    """A Stripe customer that is already linked (the common case for a push)."""
    sdk = stripe.StripeClient(API_KEY, base_addresses={"api": emu.base_url})
    created = sdk.v1.customers.create(params={"name": "Fabrikam", "metadata": {"x": "y"}})
    emu.clear_requests()
    return created.id


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI's ``main`` configures logging for a process; undo it after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[EmulatorServer]:
    """One emulator for the session (rate limits off unless a test turns them on)."""
    with EmulatorServer({"rate_limit": 0}) as server:
        yield server


@pytest.fixture
def emu(stripe_server: EmulatorServer) -> EmulatorServer:
    """The emulator, emptied and back to its start-up knobs for this test."""
    stripe_server.reset()
    return stripe_server


@pytest.fixture(scope="session")
def session_bus(amqp_url: str) -> Iterator[tuple[str, Topology]]:
    """A bus namespace and its declared topology (what the gateway uses for that namespace)."""
    namespace = random_ref("sg")
    topology = Topology.isolated(namespace)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        topology.declare(connection.channel())
    finally:
        connection.close()
    yield namespace, topology
    delete_topology(amqp_url, topology)


@pytest.fixture
def bus(amqp_url: str, session_bus: tuple[str, Topology]) -> tuple[str, Topology]:
    """The session's bus, with its queue emptied for this test."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        connection.channel().queue_purge(session_bus[1].queue)
    finally:
        connection.close()
    return session_bus


@pytest.fixture
def master_key() -> str:
    return "test-master-key-" + random_ref("k")


@pytest.fixture
def secret_store(tmp_path: Path, master_key: str) -> EncryptedFileSecrets:
    store = EncryptedFileSecrets(tmp_path / "secrets.enc", master_key)
    store.write(STRIPE_PATH, SERVICE_SECRETS[STRIPE_PATH])
    store.write(IDENTITY_PATH, SERVICE_SECRETS[IDENTITY_PATH])
    return store


@pytest.fixture
def gateway_env(
    monkeypatch: pytest.MonkeyPatch,
    amqp_url: str,
    bus: tuple[str, Topology],
    emu: EmulatorServer,
    secret_store: EncryptedFileSecrets,
    master_key: str,
) -> dict[str, str]:
    """``MLC_*`` variables for a gateway on the emulator, the isolated bus and the file store."""
    for name in [n for n in os.environ if n.startswith("MLC_")]:
        monkeypatch.delenv(name)
    env = {
        "MLC_ENVIRONMENT": "test",
        "MLC_AMQP_URL": amqp_url,
        "MLC_BUS_NAMESPACE": bus[0],
        "MLC_SECRETS_BACKEND": "file",
        "MLC_SECRETS_FILE": str(secret_store.path),
        "MLC_MASTER_KEY": master_key,
        "MLC_STRIPE_API_BASE": emu.base_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def app(gateway_env: dict[str, str]) -> Iterator[Flask]:
    application = create_app()
    yield application
    application.extensions["stripe_gateway"].publisher.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the gateway app, calling as the reconciler."""
    return authorized(app.test_client(), "stripe-gateway")
