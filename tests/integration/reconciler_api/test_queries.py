"""The read queries, the API's JSON and the replay write, identical on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import SERVICE_SECRETS
from factories import drain
from flask.testing import FlaskClient
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
from reconciler.bootstrap import Dependencies
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import InboxMessage
from reconciler.models import MessageSource
from reconciler.models import Payout
from reconciler.models import PayoutState
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.queries import RecordFilter
from reconciler.queries import count_replays
from reconciler.queries import get_payout
from reconciler.queries import get_record
from reconciler.queries import list_records
from reconciler.replay import replay_record
from reconciler.rules import HandlerDeps
from reconciler.rules import Rules

T0 = dt.datetime(2026, 1, 15, 10, 0, 0, tzinfo=dt.UTC)
TOKEN = SERVICE_SECRETS["ml-connector/reconciler"]["replay_token"]
MASTER_KEY = "test-master-key-reconciler-api"


def _add(sessions: sessionmaker[Session], *rows: Any) -> None:
    with sessions.begin() as session:
        session.add_all(rows)


def _record(sessions: sessionmaker[Session], key: str, hours: int, **fields: Any) -> SyncRecord:
    fields.setdefault("kind", RecordKind.PAYMENT)
    fields.setdefault("state", RecordState.FAILED)
    at = T0 + dt.timedelta(hours=hours)
    record = SyncRecord(business_key=key, created_at=at, updated_at=at, **fields)
    _add(sessions, record)
    return record


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> dict[str, SyncRecord]:
    """Four records an hour apart; the first has a story, a posting and a stored source."""
    envelope = Envelope(
        id="evt_source1",
        type="stripe.event.charge.succeeded",
        source="stripe",
        occurred_at=T0,
        received_at=T0,
        correlation_id="corr-1",
        data={
            "event_id": "evt_source1",
            "event_type": "charge.succeeded",
            "api_version": None,
            "livemode": False,
            "object_type": "charge",
            "object_id": "ch_1",
            "created": int(T0.timestamp()),
        },
    )
    _add(
        sessions,
        InboxMessage(
            message_id=envelope.id,
            message_type=envelope.type,
            source=MessageSource.STRIPE,
            payload=envelope.to_dict(),
        ),
    )
    records = {
        "payment": _record(
            sessions,
            "stripe:ch_1",
            0,
            stripe_ref="ch_1",
            bc_ref="bc-1",
            bc_number="103001",
            amount_minor=123456,
            currency="eur",
            flags={"note": "unmatched metadata"},
            source_message_id=envelope.id,
        ),
        "invoice": _record(
            sessions, "bc:inv-2", 1, kind=RecordKind.INVOICE, state=RecordState.SUCCEEDED
        ),
        "refund": _record(sessions, "stripe:re_1", 2, kind=RecordKind.REFUND, stripe_ref="re_1"),
        "payout": _record(
            sessions,
            "stripe:payout:po_1",
            3,
            kind=RecordKind.PAYOUT,
            state=RecordState.SUCCEEDED,
            stripe_ref="po_1",
        ),
    }
    payment = records["payment"]
    _add(
        sessions,
        AuditEvent(
            record_id=payment.id,
            action="called",
            summary="third",
            actor="reconciler",
            outcome=AuditOutcome.ERROR,
            created_at=T0 + dt.timedelta(seconds=2),
            request_summary={"lines": 1},
        ),
        AuditEvent(
            record_id=payment.id,
            action="received",
            summary="first",
            actor="reconciler",
            outcome=AuditOutcome.OK,
            created_at=T0,
        ),
        AuditEvent(
            record_id=payment.id,
            action="fetched",
            summary="second",
            actor="reconciler",
            outcome=AuditOutcome.OK,
            created_at=T0 + dt.timedelta(seconds=1),
        ),
        Posting(
            stripe_id="ch_1",
            kind=PostingKind.PAYMENT,
            record_id=payment.id,
            bc_company_id="c1",
            amount=Decimal("-1234.56"),
            amount_minor=123456,
            currency="eur",
        ),
        Payout(
            stripe_payout_id="po_1",
            record_id=records["payout"].id,
            amount_minor=5000,
            fee_minor=125,
            net_minor=5000,
            currency="eur",
            state=PayoutState.POSTED,
            unmatched=[{"balance_transaction": "txn_1", "reason": "no posting"}],
        ),
    )
    return records


def _ids(session: Session, **where: Any) -> list[int]:
    return [r.id for r in list_records(session, RecordFilter(**where)).items]


class TestQueries:
    def test_filters_and_newest_first_order(
        self, sessions: sessionmaker[Session], world: dict[str, SyncRecord]
    ) -> None:
        w = {k: r.id for k, r in world.items()}
        with sessions() as session:
            assert _ids(session) == [w["payout"], w["refund"], w["invoice"], w["payment"]]
            assert _ids(session, state=RecordState.FAILED) == [w["refund"], w["payment"]]
            assert _ids(session, kind=RecordKind.INVOICE) == [w["invoice"]]
            assert _ids(session, bc_ref="103001") == [w["payment"]]
            assert _ids(session, bc_ref="bc-1") == [w["payment"]]
            assert _ids(session, stripe_ref="re_1") == [w["refund"]]
            assert _ids(
                session, since=T0 + dt.timedelta(hours=1), until=T0 + dt.timedelta(hours=3)
            ) == [w["refund"], w["invoice"]]

    def test_keyset_pages_cover_everything_once(
        self, sessions: sessionmaker[Session], world: dict[str, SyncRecord]
    ) -> None:
        seen: list[int] = []
        cursor: int | None = None
        with sessions() as session:
            while True:
                page = list_records(session, RecordFilter(limit=3, cursor=cursor))
                seen += [r.id for r in page.items]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        assert seen == sorted((r.id for r in world.values()), reverse=True)

    def test_record_detail_orders_the_trail_by_time_and_keeps_exact_amounts(
        self, sessions: sessionmaker[Session], world: dict[str, SyncRecord]
    ) -> None:
        with sessions() as session:
            detail = get_record(session, world["payment"].id)
            missing = get_record(session, 999_999)
        assert detail is not None
        assert missing is None
        assert [e.summary for e in detail.audit] == ["first", "second", "third"]
        assert detail.audit[2].request_summary == {"lines": 1}
        assert [(p.stripe_id, p.amount) for p in detail.postings] == [("ch_1", Decimal("-1234.56"))]
        assert detail.record.flags == {"note": "unmatched metadata"}

    def test_payout_detail_and_replay_count(
        self, sessions: sessionmaker[Session], world: dict[str, SyncRecord]
    ) -> None:
        with sessions() as session:
            detail = get_payout(session, "po_1")
            replays = count_replays(session, world["payment"].id)
        assert detail is not None
        assert detail.payout is not None
        assert detail.payout.unmatched == [{"balance_transaction": "txn_1", "reason": "no posting"}]
        assert detail.record is not None
        assert detail.record.id == world["payout"].id
        assert replays == 0


@pytest.fixture
def client(
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    amqp_url: str,
    topology: Topology,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FlaskClient]:
    for name in list(os.environ):
        if name.startswith("MLC_") and not name.startswith("MLC_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MLC_MASTER_KEY", MASTER_KEY)
    publisher = Publisher(amqp_url, exchange=topology.exchange)
    deps = Dependencies(
        engine=engine,
        session_factory=sessions,
        publisher=publisher,
        secret_store=EncryptedFileSecrets(tmp_path / "secrets.enc", MASTER_KEY),
        handler_deps=HandlerDeps(
            stripe=HttpStripeGateway("http://127.0.0.1:9"),
            bc=HttpBcGateway("http://127.0.0.1:9"),
            rules=Rules(),
        ),
        secrets={"replay_token": TOKEN},
    )
    yield create_app({"TESTING": True}, deps=deps).test_client()
    publisher.close()


@pytest.mark.rabbitmq
class TestApiOnEachDatabase:
    def test_list_and_show_answer_the_same_json(
        self, client: FlaskClient, world: dict[str, SyncRecord]
    ) -> None:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        listing = client.get("/records?state=failed&limit=1", headers=auth).get_json()
        shown = client.get(f"/records/{world['payment'].id}", headers=auth).get_json()

        assert [r["id"] for r in listing["data"]] == [world["refund"].id]
        assert listing["next_cursor"] == world["refund"].id
        assert shown["record"]["amount"] == "1234.56"
        assert shown["record"]["created_at"] == "2026-01-15T10:00:00+00:00"
        assert [e["summary"] for e in shown["audit"]] == ["first", "second", "third"]
        assert shown["postings"][0]["amount"] == "-1234.56"

    def test_replay_writes_its_audit_row_and_state(
        self,
        client: FlaskClient,
        sessions: sessionmaker[Session],
        world: dict[str, SyncRecord],
        amqp_url: str,
        topology: Topology,
    ) -> None:
        record_id = world["payment"].id
        first = replay_record(
            sessions, _publisher(client), record_id, actor="ops@example.com", reason="retry it"
        )

        with sessions() as session:
            count = count_replays(session, record_id)
            state = session.get_one(SyncRecord, record_id).state
        assert first.message_id == f"replay:{record_id}:1"
        assert count == 1
        assert state is RecordState.PENDING
        assert [p.message_id for p, _ in drain(amqp_url, topology.queue)] == [first.message_id]


def _publisher(client: FlaskClient) -> Publisher:
    deps: Dependencies = client.application.extensions["reconciler"]
    return deps.publisher
