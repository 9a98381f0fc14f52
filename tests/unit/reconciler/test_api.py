"""The reconciler API through Flask's test client, on a real SQLite file and a real broker."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import drain
from factories import free_port
from factories import queue_depth
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.contracts import load_message
from mlconnector.secrets_file import EncryptedFileSecrets
from reconciler.adapters.gateways import HttpBcGateway
from reconciler.adapters.gateways import HttpStripeGateway
from reconciler.api import create_app
from reconciler.bootstrap import Dependencies
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import PayoutState
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.rules import Rules

pytestmark = pytest.mark.rabbitmq

T0 = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)
TOKEN = "replay-token-Hn2Kc7Vd0Rf5"  # tests/factories.py SERVICE_SECRETS
REPLAY = {"actor": "ops@example.com", "reason": "BC was down; fixed now"}


def _ids(response: Any) -> list[int]:
    return [row["id"] for row in response.get_json()["data"]]


def _audit_rows(sessions: sessionmaker[Session], record_id: int) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.record_id == record_id).order_by(AuditEvent.id)
            )
        )


def _state(sessions: sessionmaker[Session], record_id: int) -> RecordState:
    with sessions() as session:
        return session.get_one(SyncRecord, record_id).state


class TestAuthentication:
    def test_health_endpoints_are_open_without_a_token(self, client: FlaskClient) -> None:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.get_json()
        assert set(ready.get_json()["checks"]) == {"database", "rabbitmq", "secrets"}

    @pytest.mark.parametrize(
        "path", ["/records", "/records/1", "/payouts", "/payouts/po_1", "/no/such/route"]
    )
    def test_every_other_endpoint_needs_the_bearer_token(
        self, client: FlaskClient, path: str
    ) -> None:
        response = client.get(path)

        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["error"]["code"] == "unauthorized"

    def test_wrong_token_is_refused_and_neither_token_is_logged(
        self, client: FlaskClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        wrong = "not-the-token-" + TOKEN[::-1]

        response = client.get("/records", headers={"Authorization": f"Bearer {wrong}"})

        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        body = response.get_data(as_text=True)
        assert wrong not in body
        assert TOKEN not in body
        assert wrong not in caplog.text
        assert TOKEN not in caplog.text
        assert "wrong bearer token" in caplog.text

    @pytest.mark.parametrize("header", [f"Basic {TOKEN}", "Bearer", "Bearer ", TOKEN])
    def test_malformed_authorization_headers_are_refused(
        self, client: FlaskClient, header: str
    ) -> None:
        assert client.get("/records", headers={"Authorization": header}).status_code == 401

    def test_replay_without_token_publishes_and_records_nothing(
        self,
        client: FlaskClient,
        seed: Any,
        sessions: sessionmaker[Session],
        amqp_url: str,
        topology: Topology,
    ) -> None:
        record = seed.record()

        response = client.post(f"/records/{record.id}/replay", json=REPLAY)

        assert response.status_code == 401
        assert queue_depth(amqp_url, topology.queue) == 0
        assert _audit_rows(sessions, record.id) == []

    def test_unknown_route_with_the_token_is_a_json_404(
        self, client: FlaskClient, auth: dict[str, str]
    ) -> None:
        response = client.get("/no/such/route", headers=auth)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"

    def test_an_unknown_console_address_is_a_404_not_a_request_for_a_token(
        self, client: FlaskClient
    ) -> None:
        """A person's browser never meets the API's bearer challenge; the API still does."""
        response = client.get("/console/no-such-page")
        assert response.status_code == 404
        assert "WWW-Authenticate" not in response.headers
        # Dot segments are not resolved by the router: no way around the guard through them.
        assert client.get("/console/../records").status_code in (401, 404)
        assert client.get("/records").status_code == 401


class TestListRecords:
    @pytest.fixture
    def records(self, seed: Any) -> dict[str, SyncRecord]:
        return {
            "failed_payment": seed.record(
                state=RecordState.FAILED,
                kind=RecordKind.PAYMENT,
                stripe_ref="pi_failed",
                bc_ref="bc-inv-1",
                bc_number="103001",
                amount_minor=1050,
                currency="usd",
                created_at=T0,
            ),
            "ok_invoice": seed.record(
                state=RecordState.SUCCEEDED,
                kind=RecordKind.INVOICE,
                stripe_ref="in_ok",
                bc_ref="bc-inv-2",
                created_at=T0 + dt.timedelta(days=1),
            ),
            "unmatched_payment": seed.record(
                state=RecordState.UNMATCHED,
                kind=RecordKind.PAYMENT,
                stripe_ref="pi_unmatched",
                created_at=T0 + dt.timedelta(days=2),
            ),
            "jpy_refund": seed.record(
                state=RecordState.FAILED,
                kind=RecordKind.REFUND,
                stripe_ref="re_1",
                amount_minor=500,
                currency="jpy",
                created_at=T0 + dt.timedelta(days=3),
            ),
        }

    def _get(self, client: FlaskClient, auth: dict[str, str], **query: Any) -> Any:
        response = client.get("/records", headers=auth, query_string=query)
        assert response.status_code == 200, response.get_json()
        return response

    def test_all_records_newest_first_with_amounts_in_minor_units_and_decimals(
        self, client: FlaskClient, auth: dict[str, str], records: dict[str, SyncRecord]
    ) -> None:
        body = self._get(client, auth).get_json()

        assert [r["id"] for r in body["data"]] == [
            records[k].id
            for k in ("jpy_refund", "unmatched_payment", "ok_invoice", "failed_payment")
        ]
        assert body["next_cursor"] is None
        by_id = {r["id"]: r for r in body["data"]}
        payment = by_id[records["failed_payment"].id]
        assert (payment["amount_minor"], payment["amount"], payment["currency"]) == (
            1050,
            "10.50",
            "usd",
        )
        assert by_id[records["jpy_refund"].id]["amount"] == "500"
        assert by_id[records["ok_invoice"].id]["amount"] is None
        assert payment["created_at"].startswith("2026-11-24T10:00:00")

    def test_filters_by_state_and_kind(
        self, client: FlaskClient, auth: dict[str, str], records: dict[str, SyncRecord]
    ) -> None:
        failed = _ids(self._get(client, auth, state="failed"))
        payments = _ids(self._get(client, auth, kind="payment"))
        both = _ids(self._get(client, auth, state="failed", kind="payment"))

        assert failed == [records["jpy_refund"].id, records["failed_payment"].id]
        assert payments == [records["unmatched_payment"].id, records["failed_payment"].id]
        assert both == [records["failed_payment"].id]

    def test_bc_ref_matches_the_bc_id_or_the_document_number(
        self, client: FlaskClient, auth: dict[str, str], records: dict[str, SyncRecord]
    ) -> None:
        assert _ids(self._get(client, auth, bc_ref="bc-inv-2")) == [records["ok_invoice"].id]
        assert _ids(self._get(client, auth, bc_ref="103001")) == [records["failed_payment"].id]
        assert _ids(self._get(client, auth, bc_ref="nothing")) == []

    def test_stripe_ref_matches_the_stripe_object(
        self, client: FlaskClient, auth: dict[str, str], records: dict[str, SyncRecord]
    ) -> None:
        assert _ids(self._get(client, auth, stripe_ref="pi_unmatched")) == [
            records["unmatched_payment"].id
        ]

    def test_since_is_inclusive_and_until_exclusive_with_dates_or_datetimes(
        self, client: FlaskClient, auth: dict[str, str], records: dict[str, SyncRecord]
    ) -> None:
        window = _ids(self._get(client, auth, since="2026-11-25", until="2026-11-27"))
        from_exact = _ids(self._get(client, auth, since="2026-11-26T10:00:00Z"))
        offset = _ids(self._get(client, auth, until="2026-11-25T12:00:00+02:00"))

        assert window == [records["unmatched_payment"].id, records["ok_invoice"].id]
        assert from_exact == [records["jpy_refund"].id, records["unmatched_payment"].id]
        # 12:00+02:00 is 10:00Z: the invoice created at exactly that instant is excluded.
        assert offset == [records["failed_payment"].id]

    def test_pages_follow_the_cursor_to_the_end(
        self, client: FlaskClient, auth: dict[str, str], records: dict[str, SyncRecord]
    ) -> None:
        first = self._get(client, auth, limit=3).get_json()
        second = self._get(client, auth, limit=3, cursor=first["next_cursor"]).get_json()

        assert len(first["data"]) == 3
        assert first["next_cursor"] == first["data"][-1]["id"]
        assert [r["id"] for r in second["data"]] == [records["failed_payment"].id]
        assert second["next_cursor"] is None

    def test_an_exactly_full_last_page_has_no_next_cursor(
        self, client: FlaskClient, auth: dict[str, str], records: dict[str, SyncRecord]
    ) -> None:
        body = self._get(client, auth, limit=4).get_json()
        assert len(body["data"]) == 4
        assert body["next_cursor"] is None

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"state": "bogus"}, "state"),
            ({"kind": "bogus"}, "kind"),
            ({"limit": "0"}, "limit"),
            ({"limit": "201"}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"cursor": "-1"}, "cursor"),
            ({"cursor": str(2**63)}, "cursor"),
            ({"since": "yesterday"}, "since"),
            ({"since": "2026-11-24T10:00:00"}, "since"),  # naive: which time zone?
            ({"since": "2026-11-25", "until": "2026-11-24"}, "until"),
            ({"colour": "red"}, "colour"),
        ],
    )
    def test_invalid_filters_are_422_naming_the_field(
        self, client: FlaskClient, auth: dict[str, str], query: dict[str, str], field: str
    ) -> None:
        response = client.get("/records", headers=auth, query_string=query)

        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "validation_failed"
        assert field in error["details"]["fields"]


class TestShowRecord:
    def test_record_with_audit_trail_in_time_order_and_postings(
        self, client: FlaskClient, auth: dict[str, str], seed: Any
    ) -> None:
        record = seed.record(
            stripe_ref="pi_1",
            bc_ref="bc-inv-1",
            bc_number="103001",
            amount_minor=1050,
            currency="usd",
            attempts=3,
            last_error="TransientError: timeout",
            flags={"auto_post": True},
        )
        # Written out of order: the trail is ordered by time, not by insertion.
        seed.audit(
            record,
            "called",
            "create payment line",
            T0 + dt.timedelta(seconds=2),
            outcome=AuditOutcome.ERROR,
            duration_ms=120,
            error="timeout",
            request_summary={"amount": "-10.50"},
        )
        seed.audit(record, "received", "received stripe.event.invoice.paid", T0)
        seed.audit(record, "fetched", "fetched invoice in_1", T0 + dt.timedelta(seconds=1))
        seed.posting(
            record,
            "pi_1",
            kind=PostingKind.PAYMENT,
            state=PostingState.POSTED,
            bc_company_id="c1",
            bc_invoice_id="bc-inv-1",
            bc_line_id="line-1",
            amount=Decimal("-10.50"),
            amount_minor=1050,
            currency="usd",
        )

        response = client.get(f"/records/{record.id}", headers=auth)

        assert response.status_code == 200
        body = response.get_json()
        shown = body["record"]
        assert (shown["id"], shown["kind"], shown["state"]) == (record.id, "payment", "failed")
        assert (shown["bc_ref"], shown["bc_number"], shown["stripe_ref"]) == (
            "bc-inv-1",
            "103001",
            "pi_1",
        )
        assert (shown["amount_minor"], shown["amount"], shown["currency"]) == (1050, "10.50", "usd")
        assert shown["attempts"] == 3
        assert shown["last_error"] == "TransientError: timeout"
        assert shown["flags"] == {"auto_post": True}
        assert [e["action"] for e in body["audit"]] == ["received", "fetched", "called"]
        called = body["audit"][2]
        assert called["outcome"] == "error"
        assert called["duration_ms"] == 120
        assert called["error"] == "timeout"
        assert called["actor"] == "reconciler"
        assert called["request_summary"] == {"amount": "-10.50"}
        assert [(p["stripe_id"], p["amount"], p["bc_line_id"]) for p in body["postings"]] == [
            ("pi_1", "-10.50", "line-1")
        ]

    @pytest.mark.parametrize("record_id", ["999999", str(2**63), "1" * 30])
    def test_unknown_record_is_a_json_404(
        self, client: FlaskClient, auth: dict[str, str], record_id: str
    ) -> None:
        response = client.get(f"/records/{record_id}", headers=auth)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


class TestReplay:
    def test_replay_publishes_the_source_message_once_with_a_new_id_and_records_who_and_why(
        self,
        client: FlaskClient,
        auth: dict[str, str],
        seed: Any,
        sessions: sessionmaker[Session],
        amqp_url: str,
        topology: Topology,
    ) -> None:
        record = seed.record(state=RecordState.FAILED)

        response = client.post(f"/records/{record.id}/replay", headers=auth, json=REPLAY)

        assert response.status_code == 202, response.get_json()
        body = response.get_json()
        assert body["record_id"] == record.id
        assert body["message_id"] == f"replay:{record.id}:1"
        assert body["previous_state"] == "failed"
        assert body["state"] == "pending"
        assert body["note"] is None
        messages = drain(amqp_url, topology.queue)
        assert len(messages) == 1
        properties, raw = messages[0]
        envelope = load_message(raw)  # the replayed message satisfies its contract
        assert envelope.id == properties.message_id == f"replay:{record.id}:1"
        assert envelope.correlation_id == properties.correlation_id
        assert envelope.correlation_id != "corr-" + record.source_message_id
        assert envelope.type == "stripe.event.invoice.paid"
        assert envelope.source == "stripe"
        assert envelope.occurred_at == T0
        assert envelope.data["event_id"] == record.source_message_id
        now = dt.datetime.now(dt.UTC)
        assert now - dt.timedelta(minutes=1) < envelope.received_at <= now
        [audit] = _audit_rows(sessions, record.id)
        assert (audit.action, audit.outcome, audit.actor) == (
            "replayed",
            AuditOutcome.OK,
            "ops@example.com",
        )
        assert audit.summary == "replayed by ops@example.com: BC was down; fixed now"
        assert audit.request_summary == {
            "reason": "BC was down; fixed now",
            "new_message_id": f"replay:{record.id}:1",
        }
        assert audit.message_id == f"replay:{record.id}:1"
        assert _state(sessions, record.id) is RecordState.PENDING

    def test_a_second_replay_gets_the_next_number(
        self,
        client: FlaskClient,
        auth: dict[str, str],
        seed: Any,
        sessions: sessionmaker[Session],
        amqp_url: str,
        topology: Topology,
    ) -> None:
        record = seed.record()

        first = client.post(f"/records/{record.id}/replay", headers=auth, json=REPLAY)
        second = client.post(f"/records/{record.id}/replay", headers=auth, json=REPLAY)

        assert (first.status_code, second.status_code) == (202, 202)
        assert second.get_json()["message_id"] == f"replay:{record.id}:2"
        ids = [p.message_id for p, _ in drain(amqp_url, topology.queue)]
        assert sorted(ids) == [f"replay:{record.id}:1", f"replay:{record.id}:2"]
        assert [a.action for a in _audit_rows(sessions, record.id)] == ["replayed", "replayed"]

    def test_a_succeeded_record_can_be_replayed_and_the_answer_says_so(
        self, client: FlaskClient, auth: dict[str, str], seed: Any, sessions: Any
    ) -> None:
        record = seed.record(state=RecordState.SUCCEEDED)

        response = client.post(f"/records/{record.id}/replay", headers=auth, json=REPLAY)

        assert response.status_code == 202
        assert "already succeeded" in response.get_json()["note"]
        assert response.get_json()["previous_state"] == "succeeded"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"actor": "ops@example.com"}, "reason"),
            ({"actor": "ops@example.com", "reason": "  x "}, "reason"),
            ({"actor": "ops@example.com", "reason": "r" * 501}, "reason"),
            ({"reason": "BC was down"}, "actor"),
            ({"actor": "ops\n@example.com", "reason": "BC was down"}, "actor"),
            ({**REPLAY, "force": True}, "force"),
        ],
    )
    def test_invalid_bodies_are_422_and_nothing_is_published(
        self,
        client: FlaskClient,
        auth: dict[str, str],
        seed: Any,
        sessions: sessionmaker[Session],
        amqp_url: str,
        topology: Topology,
        body: dict[str, Any],
        field: str,
    ) -> None:
        record = seed.record()

        response = client.post(f"/records/{record.id}/replay", headers=auth, json=body)

        assert response.status_code == 422
        assert field in response.get_json()["error"]["details"]["fields"]
        assert queue_depth(amqp_url, topology.queue) == 0
        assert _audit_rows(sessions, record.id) == []

    def test_a_body_that_is_not_json_is_422(
        self, client: FlaskClient, auth: dict[str, str], seed: Any
    ) -> None:
        record = seed.record()
        response = client.post(
            f"/records/{record.id}/replay",
            headers={**auth, "Content-Type": "application/json"},
            data=b"{not json",
        )
        assert response.status_code == 422

    def test_record_without_a_source_message_is_409(
        self, client: FlaskClient, auth: dict[str, str], seed: Any, sessions: Any
    ) -> None:
        no_source = seed.record(with_source=False)
        not_stored = seed.record(with_source=False, source_message_id="evt_never_stored")

        for record in (no_source, not_stored):
            response = client.post(f"/records/{record.id}/replay", headers=auth, json=REPLAY)
            assert response.status_code == 409
            assert response.get_json()["error"]["code"] == "not_replayable"
            assert _audit_rows(sessions, record.id) == []
            assert _state(sessions, record.id) is RecordState.FAILED

    @pytest.mark.parametrize("record_id", ["999999", str(2**64)])
    def test_unknown_record_is_404(
        self, client: FlaskClient, auth: dict[str, str], record_id: str
    ) -> None:
        response = client.post(f"/records/{record_id}/replay", headers=auth, json=REPLAY)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"

    def test_broker_down_is_503_and_the_record_keeps_its_state(
        self,
        operator_env: Topology,
        engine: Engine,
        sessions: sessionmaker[Session],
        secrets_file: Path,
        seed: Any,
        auth: dict[str, str],
    ) -> None:
        down = Publisher(
            f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F",
            exchange="mlc.events",
            connect_timeout_s=1,
            confirm_timeout_s=2,
        )
        deps = Dependencies(
            engine=engine,
            session_factory=sessions,
            publisher=down,
            secret_store=EncryptedFileSecrets(secrets_file, "test-master-key-reconciler-api"),
            handler_deps=HandlerDeps(
                stripe=HttpStripeGateway("http://127.0.0.1:9"),
                bc=HttpBcGateway("http://127.0.0.1:9"),
                rules=Rules(),
            ),
            secrets={"replay_token": TOKEN},
        )
        client = create_app({"TESTING": True}, deps=deps).test_client()
        record = seed.record(state=RecordState.FAILED)
        try:
            response = client.post(f"/records/{record.id}/replay", headers=auth, json=REPLAY)
        finally:
            down.close()

        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "bus_unavailable"
        assert response.headers["Retry-After"] == "5"
        # The attempt is part of the story (who tried, and that it was not published); the
        # record is back to its state.
        rows = _audit_rows(sessions, record.id)
        assert [(r.action, r.outcome, r.actor) for r in rows] == [
            ("replayed", AuditOutcome.OK, REPLAY["actor"]),
            ("replayed", AuditOutcome.ERROR, REPLAY["actor"]),
        ]
        assert "not published" in rows[1].summary
        assert _state(sessions, record.id) is RecordState.FAILED


class TestPayouts:
    def test_payout_with_amounts_lines_unmatched_items_and_its_story(
        self, client: FlaskClient, auth: dict[str, str], seed: Any
    ) -> None:
        record = seed.record(
            kind=RecordKind.PAYOUT,
            state=RecordState.SUCCEEDED,
            stripe_ref="po_1",
            business_key="stripe:payout:po_1",
            with_source=False,
        )
        seed.audit(record, "result", "payout po_1 reconciled", T0 + dt.timedelta(seconds=5))
        seed.audit(record, "received", "received stripe.event.payout.paid", T0)
        unmatched = [{"balance_transaction": "txn_9", "reason": "charge ch_9 has no BC posting"}]
        seed.payout(
            stripe_payout_id="po_1",
            record_id=record.id,
            amount_minor=9650,
            fee_minor=350,
            net_minor=9650,
            currency="usd",
            state=PayoutState.POSTED,
            fee_line_id="line-f",
            bank_line_id="line-n",
            unmatched=unmatched,
        )

        response = client.get("/payouts/po_1", headers=auth)

        assert response.status_code == 200
        body = response.get_json()
        payout = body["payout"]
        assert (payout["net_minor"], payout["net"], payout["fee_minor"], payout["fee"]) == (
            9650,
            "96.50",
            350,
            "3.50",
        )
        assert (payout["fee_line_id"], payout["bank_line_id"], payout["state"]) == (
            "line-f",
            "line-n",
            "posted",
        )
        assert payout["unmatched"] == unmatched
        assert body["record"]["id"] == record.id
        assert [e["action"] for e in body["audit"]] == ["received", "result"]

    def test_payout_not_reconciled_yet_shows_its_record_only(
        self, client: FlaskClient, auth: dict[str, str], seed: Any
    ) -> None:
        record = seed.record(
            kind=RecordKind.PAYOUT, state=RecordState.PENDING, stripe_ref="po_2", with_source=False
        )
        seed.audit(record, "decided", "payout is in_transit; waiting for paid", T0)

        body = client.get("/payouts/po_2", headers=auth).get_json()

        assert body["payout"] is None
        assert body["record"]["id"] == record.id
        assert body["audit"][0]["summary"] == "payout is in_transit; waiting for paid"

    def test_unknown_payout_is_404(self, client: FlaskClient, auth: dict[str, str]) -> None:
        assert client.get("/payouts/po_missing", headers=auth).status_code == 404

    def test_payout_list_pages_newest_first(
        self, client: FlaskClient, auth: dict[str, str], seed: Any
    ) -> None:
        for n in range(3):
            seed.payout(stripe_payout_id=f"po_{n}", amount_minor=100 * n, currency="eur")

        first = client.get("/payouts?limit=2", headers=auth).get_json()
        rest = client.get(f"/payouts?limit=2&cursor={first['next_cursor']}", headers=auth)

        assert [p["stripe_payout_id"] for p in first["data"]] == ["po_2", "po_1"]
        assert [p["stripe_payout_id"] for p in rest.get_json()["data"]] == ["po_0"]
        assert rest.get_json()["next_cursor"] is None
        assert first["data"][0]["amount"] == "2.00"
        assert client.get("/payouts?limit=500", headers=auth).status_code == 422
