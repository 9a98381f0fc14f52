"""Schemathesis against the reconciler API, on SQLite and PostgreSQL (reliability.md §7, case 34).

The schema is the one the app serves at ``/openapi.json``, loaded through the app itself, and
every generated request goes to the real app: real database (this directory's fixtures, both
backends), real broker (replay publishes with confirms), real secret store. Pass: no 5xx and no
answer outside the description, with the operator token and without any (then every operation
but the probes and the description must be 401).

Generation is bounded and derandomized so a run is reproducible and takes seconds; a failure
prints a curl command that replays it. The seeded records give the read operations something to
find, and a replayable record lets replay reach the broker.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from flask import Flask
from schemathesis_support import SETTINGS
from schemathesis_support import Case
from schemathesis_support import schemas
from schemathesis_support import undeclared_method
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.contracts import Envelope
from mlconnector.secrets_file import EncryptedFileSecrets
from reconciler.adapters.gateways import HttpBcGateway
from reconciler.adapters.gateways import HttpStripeGateway
from reconciler.api import create_app
from reconciler.api.openapi import document
from reconciler.bootstrap import Dependencies
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import InboxMessage
from reconciler.models import MessageSource
from reconciler.models import Payout
from reconciler.models import PayoutState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.rules import Rules

pytestmark = pytest.mark.rabbitmq


TOKEN = SERVICE_SECRETS["ml-connector/reconciler"]["replay_token"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MASTER_KEY = "test-master-key-reconciler-schemathesis"
T0 = dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.UTC)
OPEN_PATHS = ("/healthz", "/readyz", "/openapi.json", "/metrics")


def _add(sessions: sessionmaker[Session], *rows: Any) -> None:
    with sessions.begin() as session:
        session.add_all(rows)


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> dict[str, int]:
    """A failed payment with its stored source message and a trail, and a reconciled payout."""
    envelope = Envelope(
        id="evt_schemathesis1",
        type="stripe.event.charge.succeeded",
        source="stripe",
        occurred_at=T0,
        received_at=T0,
        correlation_id="corr-st",
        data={
            "event_id": "evt_schemathesis1",
            "event_type": "charge.succeeded",
            "api_version": None,
            "livemode": False,
            "object_type": "charge",
            "object_id": "ch_st1",
            "created": int(T0.timestamp()),
        },
    )
    payment = SyncRecord(
        business_key="stripe:ch_st1",
        kind=RecordKind.PAYMENT,
        state=RecordState.FAILED,
        stripe_ref="ch_st1",
        amount_minor=1999,
        currency="usd",
        source_message_id=envelope.id,
        created_at=T0,
        updated_at=T0,
    )
    payout = SyncRecord(
        business_key="stripe:payout:po_st1",
        kind=RecordKind.PAYOUT,
        state=RecordState.SUCCEEDED,
        stripe_ref="po_st1",
        created_at=T0 + dt.timedelta(hours=1),
        updated_at=T0 + dt.timedelta(hours=1),
    )
    _add(
        sessions,
        InboxMessage(
            message_id=envelope.id,
            message_type=envelope.type,
            source=MessageSource.STRIPE,
            payload=envelope.to_dict(),
        ),
        payment,
        payout,
    )
    _add(
        sessions,
        AuditEvent(
            record_id=payment.id,
            action="called",
            summary="BC refused the line",
            actor="reconciler",
            outcome=AuditOutcome.ERROR,
            created_at=T0,
            request_summary={"lines": 1},
        ),
        Payout(
            stripe_payout_id="po_st1",
            record_id=payout.id,
            amount_minor=5000,
            fee_minor=125,
            net_minor=4875,
            currency="usd",
            state=PayoutState.POSTED,
            unmatched=[],
        ),
    )
    return {"payment": payment.id, "payout": payout.id}


class _EmptyStripe(HttpStripeGateway):
    """A Stripe account with nothing in it, for ``POST /drift-checks``'s contract (the check
    itself runs against the real gateways in tests/e2e/test_clearing.py)."""

    def balance(self) -> dict[str, Any]:
        return {"available": {}, "pending": {}}

    def balance_transactions_since(self, created_gte: int) -> list[dict[str, Any]]:
        return []

    def payouts_since(self, created_gte: int) -> list[dict[str, Any]]:
        return []


class _EmptyBc(HttpBcGateway):
    def gl_balance(self, number: str) -> dict[str, Any]:
        return {"number": number, "balance": "0", "entries": 0}


@pytest.fixture
def app(
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    amqp_url: str,
    topology: Topology,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Flask]:
    """The API app on this module's database, a real publisher, a real secrets file.

    The rate limits are raised far above what a run sends: with the production budget of 10
    failed authentications a minute, the unauthenticated run would test the limiter (429, which
    the description allows) instead of the guard.
    """
    for name in list(os.environ):
        if name.startswith("MLC_") and not name.startswith("MLC_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MLC_MASTER_KEY", MASTER_KEY)
    monkeypatch.setenv("MLC_RATELIMIT_AUTH_FAILURES", "100000/minute")
    monkeypatch.setenv("MLC_RATELIMIT_API", "100000/minute")
    store = EncryptedFileSecrets(tmp_path / "secrets.enc", MASTER_KEY)
    store.write("ml-connector/reconciler", SERVICE_SECRETS["ml-connector/reconciler"])
    publisher = Publisher(amqp_url, exchange=topology.exchange)
    deps = Dependencies(
        engine=engine,
        session_factory=sessions,
        publisher=publisher,
        secret_store=store,
        handler_deps=HandlerDeps(
            stripe=_EmptyStripe("http://127.0.0.1:9"),
            bc=_EmptyBc("http://127.0.0.1:9"),
            rules=Rules(),
        ),
        secrets={"replay_token": TOKEN},
    )
    yield create_app({"TESTING": True}, deps=deps)
    publisher.close()


# The description as the app serves it (tests/unit/mlconnector/test_service_descriptions.py
# checks that the served document is this one).
schema, anonymous_schema, CURRENT = schemas(document())


@pytest.fixture
def current(app: Flask, world: dict[str, int]) -> Iterator[Flask]:
    """This test's app (on a seeded database) is where generated requests go."""
    CURRENT.app = app
    yield app
    CURRENT.app = None


@schema.parametrize()
@SETTINGS
def test_with_the_operator_token(case: Case, current: Flask) -> None:
    case.call_and_validate(headers=AUTH)


@anonymous_schema.parametrize()
@SETTINGS
def test_without_credentials(case: Case, current: Flask) -> None:
    response = case.call_and_validate()
    if undeclared_method(case):
        return
    if case.path not in OPEN_PATHS:
        assert response.status_code == 401, case.as_curl_command()


class TestSeededRecords:
    """Answers about rows that exist, checked against the description like the generated ones."""

    def test_reads_and_replay_conform(self, current: Flask, world: dict[str, int]) -> None:
        payment, payout = world["payment"], world["payout"]
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("/records", "GET", {"query": {"state": "failed", "limit": 1}}),
            ("/records/{record_id}", "GET", {"path_parameters": {"record_id": payment}}),
            ("/payouts", "GET", {}),
            (
                "/payouts/{stripe_payout_id}",
                "GET",
                {"path_parameters": {"stripe_payout_id": "po_st1"}},
            ),
            (
                "/records/{record_id}/replay",
                "POST",
                {
                    "path_parameters": {"record_id": payment},
                    "body": {"actor": "ops@example.com", "reason": "BC is back"},
                },
            ),
            (
                "/records/{record_id}/replay",
                "POST",
                {
                    "path_parameters": {"record_id": payout},
                    "body": {"actor": "ops@example.com", "reason": "no source"},
                },
            ),
        ]
        statuses = []
        for path, method, parts in calls:
            case = schema[path][method].Case(**parts)
            statuses.append(case.call_and_validate(headers=AUTH).status_code)

        assert statuses == [200, 200, 200, 200, 202, 409]
