"""Fixtures for the reconciler's API and operator CLI: a migrated SQLite file, a real broker, seeds.

The schema is migrated once per session into a template file, and every test gets its own copy
(copying a file is much faster than running the migrations again). The publisher is the real
confirmed one, on an isolated topology (``topology`` from tests/conftest.py), so a replay test
reads back exactly what a consumer would receive. ``seed`` writes rows with the models directly.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from factories import delete_topology
from factories import random_ref
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.contracts import Envelope
from mlconnector.db import make_engine
from mlconnector.db import make_session_factory
from mlconnector.secrets_file import EncryptedFileSecrets
from reconciler.adapters.gateways import HttpBcGateway
from reconciler.adapters.gateways import HttpStripeGateway
from reconciler.api import create_app
from reconciler.bootstrap import Dependencies
from reconciler.migrate import upgrade
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import InboxMessage
from reconciler.models import MessageSource
from reconciler.models import Payout
from reconciler.models import Posting
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.rules import Rules

TOKEN = SERVICE_SECRETS["ml-connector/reconciler"]["replay_token"]
MASTER_KEY = "test-master-key-reconciler-api"
T0 = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session (its engine disposed, so no WAL left)."""
    path = tmp_path_factory.mktemp("template") / "reconciler.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> str:
    path = tmp_path / "reconciler.db"
    shutil.copyfile(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.enc"
    store = EncryptedFileSecrets(path, MASTER_KEY)
    for secret_path, values in SERVICE_SECRETS.items():
        store.write(secret_path, values)
    return path


@pytest.fixture
def operator_env(
    monkeypatch: pytest.MonkeyPatch, db_url: str, secrets_file: Path, amqp_url: str
) -> Iterator[Topology]:
    """Environment for ``create_app`` and the CLI; yields the CLI's own isolated topology.

    The CLI builds its publisher from settings, which declares ``Topology.isolated(namespace)``
    on first use; that topology is deleted after the test.
    """
    for name in list(os.environ):
        if name.startswith("MLC_") and not name.startswith("MLC_TEST_"):
            monkeypatch.delenv(name)
    namespace = random_ref("ns")
    for name, value in {
        "MLC_ENVIRONMENT": "test",
        "MLC_AMQP_URL": amqp_url,
        "MLC_BUS_NAMESPACE": namespace,
        "MLC_SECRETS_BACKEND": "file",
        "MLC_SECRETS_FILE": str(secrets_file),
        "MLC_MASTER_KEY": MASTER_KEY,
        "MLC_DATABASE_URL": db_url,
    }.items():
        monkeypatch.setenv(name, value)
    topology = Topology.isolated(namespace)
    yield topology

    delete_topology(amqp_url, topology)


@pytest.fixture
def publisher(amqp_url: str, topology: Topology) -> Iterator[Publisher]:
    pub = Publisher(amqp_url, exchange=topology.exchange, confirm_timeout_s=10)
    yield pub
    pub.close()


def build_deps(
    engine: Engine, sessions: sessionmaker[Session], publisher: Publisher, secrets_file: Path
) -> Dependencies:
    return Dependencies(
        engine=engine,
        session_factory=sessions,
        publisher=publisher,
        secret_store=EncryptedFileSecrets(secrets_file, MASTER_KEY),
        handler_deps=HandlerDeps(
            stripe=HttpStripeGateway("http://127.0.0.1:9"),
            bc=HttpBcGateway("http://127.0.0.1:9"),
            rules=Rules(),
        ),
        secrets={"replay_token": TOKEN},
    )


@pytest.fixture
def app(
    operator_env: Topology,
    engine: Engine,
    sessions: sessionmaker[Session],
    publisher: Publisher,
    secrets_file: Path,
) -> Flask:
    return create_app({"TESTING": True}, deps=build_deps(engine, sessions, publisher, secrets_file))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def stripe_envelope(event_id: str, object_id: str) -> Envelope:
    """A valid ``stripe.event.invoice.paid`` envelope, as the stripe-gateway publishes it."""
    return Envelope(
        id=event_id,
        type="stripe.event.invoice.paid",
        source="stripe",
        occurred_at=T0,
        received_at=T0 + dt.timedelta(seconds=1),
        correlation_id="corr-" + event_id,
        data={
            "event_id": event_id,
            "event_type": "invoice.paid",
            "api_version": "2025-09-30.clover",
            "livemode": False,
            "object_type": "invoice",
            "object_id": object_id,
            "created": int(T0.timestamp()),
            "object": {"id": object_id, "amount_paid": 1050, "currency": "usd"},
        },
    )


class Seed:
    """Writes rows the way the consumer would have left them; each call commits."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, *rows: Any) -> None:
        with self._sessions.begin() as session:
            session.add_all(rows)

    def record(
        self,
        *,
        kind: RecordKind = RecordKind.PAYMENT,
        state: RecordState = RecordState.FAILED,
        created_at: dt.datetime = T0,
        with_source: bool = True,
        **fields: Any,
    ) -> SyncRecord:
        """A record; with ``with_source`` its source message is stored in the inbox too."""
        key = fields.pop("business_key", None) or random_ref("stripe:pi")
        message_id = None
        if with_source:
            message_id = "evt_" + random_ref("x").replace("-", "")
            envelope = stripe_envelope(message_id, fields.get("stripe_ref") or "in_1")
            self.add(
                InboxMessage(
                    message_id=message_id,
                    message_type=envelope.type,
                    source=MessageSource.STRIPE,
                    routing_key=envelope.type,
                    correlation_id=envelope.correlation_id,
                    payload=envelope.to_dict(),
                    attempts=3,
                    last_error="TransientError: bc-gateway timed out",
                )
            )
        fields.setdefault("source_message_id", message_id)
        record = SyncRecord(
            kind=kind,
            business_key=key,
            state=state,
            created_at=created_at,
            updated_at=created_at,
            **fields,
        )
        self.add(record)
        return record

    def audit(
        self,
        record: SyncRecord,
        action: str,
        summary: str,
        at: dt.datetime,
        *,
        outcome: AuditOutcome = AuditOutcome.OK,
        **fields: Any,
    ) -> AuditEvent:
        event = AuditEvent(
            record_id=record.id,
            action=action,
            summary=summary,
            outcome=outcome,
            actor=fields.pop("actor", "reconciler"),
            created_at=at,
            **fields,
        )
        self.add(event)
        return event

    def posting(self, record: SyncRecord, stripe_id: str, **fields: Any) -> Posting:
        posting = Posting(stripe_id=stripe_id, record_id=record.id, **fields)
        self.add(posting)
        return posting

    def payout(self, **fields: Any) -> Payout:
        payout = Payout(**fields)
        self.add(payout)
        return payout


@pytest.fixture
def seed(sessions: sessionmaker[Session]) -> Seed:
    return Seed(sessions)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``cli.main`` configures the root logger for a process; put pytest's back afterwards."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
