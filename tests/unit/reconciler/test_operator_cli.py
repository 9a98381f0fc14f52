"""The operator CLI in process (``cli.main``), on the same SQLite file and a real broker."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from factories import drain
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.bus import Topology
from mlconnector.contracts import load_message
from reconciler import cli
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import PayoutState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord

pytestmark = [pytest.mark.rabbitmq, pytest.mark.usefixtures("restore_logging")]

T0 = dt.datetime(2026, 1, 15, 10, 2, 3, tzinfo=dt.UTC)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class TestRecordsList:
    def test_table_of_matching_records_newest_first(
        self, operator_env: Topology, seed: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        old = seed.record(stripe_ref="pi_old", amount_minor=1050, currency="usd", created_at=T0)
        new = seed.record(
            stripe_ref="pi_new", bc_number="103001", created_at=T0 + dt.timedelta(hours=1)
        )
        seed.record(state=RecordState.SUCCEEDED, created_at=T0 + dt.timedelta(hours=2))

        code, out, _ = _run(capsys, "records", "list", "--state", "failed")

        assert code == 0
        lines = out.splitlines()
        assert lines[0].split()[:4] == ["ID", "CREATED", "(UTC)", "KIND"]
        assert lines[1].split()[0] == str(new.id)
        assert "103001" in lines[1]
        assert lines[2].split()[0] == str(old.id)
        assert "2026-01-15 10:02:03" in lines[2]
        assert "10.50 USD" in lines[2]
        assert len(lines) == 3

    def test_json_output_is_the_api_shape_and_pages_with_a_cursor(
        self, operator_env: Topology, seed: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        records = [seed.record(created_at=T0 + dt.timedelta(minutes=n)) for n in range(3)]

        code, out, _ = _run(capsys, "records", "list", "--limit", "2", "--json")
        first = json.loads(out)
        code2, out2, _ = _run(
            capsys,
            "records",
            "list",
            "--limit",
            "2",
            "--cursor",
            str(first["next_cursor"]),
            "--json",
        )

        assert (code, code2) == (0, 0)
        assert [r["id"] for r in first["data"]] == [records[2].id, records[1].id]
        assert [r["id"] for r in json.loads(out2)["data"]] == [records[0].id]
        assert json.loads(out2)["next_cursor"] is None

    def test_filters_by_kind_refs_and_dates(
        self, operator_env: Topology, seed: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        refund = seed.record(kind=RecordKind.REFUND, stripe_ref="re_1", created_at=T0)
        seed.record(kind=RecordKind.PAYMENT, stripe_ref="pi_1", created_at=T0)
        later = seed.record(bc_ref="bc-9", created_at=T0 + dt.timedelta(days=2))

        def ids(*argv: str) -> list[int]:
            code, out, _ = _run(capsys, "records", "list", "--json", *argv)
            assert code == 0
            return [r["id"] for r in json.loads(out)["data"]]

        assert ids("--kind", "refund") == [refund.id]
        assert ids("--stripe-ref", "re_1") == [refund.id]
        assert ids("--bc-ref", "bc-9") == [later.id]
        assert ids("--since", "2026-01-16") == [later.id]
        assert ids("--until", "2026-01-16T00:00:00Z", "--kind", "refund") == [refund.id]

    def test_invalid_filter_exits_2_naming_the_field(
        self, operator_env: Topology, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = _run(capsys, "records", "list", "--state", "bogus")

        assert code == 2
        assert out == ""
        assert "state" in err


class TestRecordsShow:
    def test_story_of_a_record_in_time_order(
        self, operator_env: Topology, seed: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        record = seed.record(stripe_ref="pi_1", amount_minor=1050, currency="usd")
        seed.audit(
            record,
            "called",
            "create payment line",
            T0 + dt.timedelta(seconds=1),
            outcome=AuditOutcome.ERROR,
            duration_ms=87,
            error="TransientError: 503",
        )
        seed.audit(record, "received", "received stripe.event.invoice.paid from stripe", T0)

        code, out, _ = _run(capsys, "records", "show", str(record.id))

        assert code == 0
        assert out.startswith(f"record {record.id}  payment  failed\n")
        assert "10.50 USD (1050 minor units)" in out
        story = out[out.index("audit trail") :].splitlines()[1:]
        assert story[0] == (
            "2026-01-15 10:02:03  received   ok      received stripe.event.invoice.paid from stripe"
        )
        assert story[1] == "2026-01-15 10:02:04  called     error   create payment line (87 ms)"
        assert story[2].strip() == "error: TransientError: 503"

    def test_json_output_has_the_audit_trail(
        self, operator_env: Topology, seed: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        record = seed.record()
        seed.audit(record, "received", "received it", T0)

        code, out, _ = _run(capsys, "records", "show", str(record.id), "--json")

        body = json.loads(out)
        assert code == 0
        assert body["record"]["id"] == record.id
        assert [e["summary"] for e in body["audit"]] == ["received it"]

    @pytest.mark.parametrize("record_id", ["424242", str(2**64)])
    def test_unknown_record_exits_1(
        self, operator_env: Topology, capsys: pytest.CaptureFixture[str], record_id: str
    ) -> None:
        code, _, err = _run(capsys, "records", "show", record_id)
        assert code == 1
        assert f"record {record_id} does not exist" in err


class TestRecordsReplay:
    def test_replay_publishes_through_the_configured_bus_and_records_the_actor(
        self,
        operator_env: Topology,
        amqp_url: str,
        seed: Any,
        sessions: sessionmaker[Session],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        record = seed.record(state=RecordState.FAILED)

        code, out, _ = _run(
            capsys,
            "records",
            "replay",
            str(record.id),
            "--actor",
            "ops@example.com",
            "--reason",
            "metadata fixed in Stripe",
        )

        assert code == 0
        assert f"record {record.id} replayed as message replay:{record.id}:1" in out
        messages = drain(amqp_url, operator_env.queue)
        assert [p.message_id for p, _ in messages] == [f"replay:{record.id}:1"]
        assert load_message(messages[0][1]).data["event_id"] == record.source_message_id
        with sessions() as session:
            audit = session.scalars(
                select(AuditEvent).where(AuditEvent.record_id == record.id)
            ).one()
            state = session.get_one(SyncRecord, record.id).state
        assert audit.actor == "ops@example.com"
        assert audit.summary == "replayed by ops@example.com: metadata fixed in Stripe"
        assert state is RecordState.PENDING

    def test_replay_of_a_record_without_source_exits_1_and_records_nothing(
        self,
        operator_env: Topology,
        seed: Any,
        sessions: sessionmaker[Session],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        record = seed.record(with_source=False)

        code, _, err = _run(
            capsys, "records", "replay", str(record.id), "--actor", "ops", "--reason", "retry it"
        )

        assert code == 1
        assert "no source message" in err
        with sessions() as session:
            assert session.scalars(select(AuditEvent)).all() == []

    def test_too_short_reason_exits_2(
        self, operator_env: Topology, seed: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        record = seed.record()
        code, _, err = _run(
            capsys, "records", "replay", str(record.id), "--actor", "ops", "--reason", "x"
        )
        assert code == 2
        assert "reason" in err


class TestPayoutsShow:
    def test_payout_summary_and_story(
        self, operator_env: Topology, seed: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        record = seed.record(
            kind=RecordKind.PAYOUT,
            state=RecordState.SUCCEEDED,
            stripe_ref="po_1",
            with_source=False,
        )
        seed.audit(record, "result", "payout po_1 reconciled", T0)
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
            unmatched=[{"balance_transaction": "txn_9", "reason": "charge ch_9 has no posting"}],
        )

        code, out, _ = _run(capsys, "payouts", "show", "po_1")

        assert code == 0
        assert "payout po_1  posted" in out
        assert "96.50 USD" in out
        assert "3.50 USD" in out
        assert "txn_9: charge ch_9 has no posting" in out
        assert "2026-01-15 10:02:03  result     ok      payout po_1 reconciled" in out

    def test_unknown_payout_exits_1(
        self, operator_env: Topology, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, _, err = _run(capsys, "payouts", "show", "po_nope")
        assert code == 1
        assert "po_nope" in err


def test_operator_commands_keep_the_secrets_preflight(
    operator_env: Topology, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MLC_MASTER_KEY")

    code, out, err = _run(capsys, "records", "list")

    assert code == 2
    assert out == ""
    assert "MLC_MASTER_KEY" in err
