"""Dead letters recorded as failed records, and journal batches posted by one poster at a time.

Both run against the module's migrated databases (SQLite and PostgreSQL) with committed
transactions, as the consumer process runs them. The BC gateway of the poster tests is a small
recording double (the real one is exercised end to end in tests/e2e): what is under test here
is the lease and the counters in the database.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from factories import random_ref
from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.bus import Delivery
from mlconnector.contracts import Envelope
from mlconnector.db import make_session_factory
from reconciler.batch_poster import AutoPosted
from reconciler.batch_poster import BatchPoster
from reconciler.batch_poster import auto_posted_journals
from reconciler.dead_letters import DeadLetterRecorder
from reconciler.dead_letters import death
from reconciler.models import AuditEvent
from reconciler.models import DeadLetter
from reconciler.models import JournalBatch
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.queries import source_message
from reconciler.rules import Rules
from reconciler.store import claim_batch
from reconciler.store import finish_batch
from reconciler.store import mark_inbox_processed
from reconciler.store import note_batch_line

WORK_QUEUE = "reconciler.events.t"


@pytest.fixture(scope="module")
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _envelope(message_id: str) -> Envelope:
    now = dt.datetime.now(dt.UTC)
    return Envelope(
        id=message_id,
        type="stripe.event.charge.succeeded",
        source="stripe",
        occurred_at=now,
        received_at=now,
        correlation_id=random_ref("c"),
        data={
            "event_id": "evt_" + message_id.replace("-", "_"),
            "event_type": "charge.succeeded",
            "api_version": "2026-10-28.endive",
            "livemode": False,
            "object_type": "charge",
            "object_id": "ch_1",
            "created": 1_765_000_000,
        },
    )


def _delivery(body: bytes, message_id: str | None, reason: str = "rejected") -> Delivery:
    parked = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    headers = {
        "x-death": [
            # Most recent first; the retry wait queue's expiry is older and not the reason.
            {"queue": WORK_QUEUE, "reason": reason, "count": 1, "time": parked},
            {"queue": WORK_QUEUE + ".retry.5s", "reason": "expired", "count": 3},
        ]
    }
    return Delivery(body, "stripe.event.charge.succeeded", message_id, None, headers, True)


def _record(factory: sessionmaker[Session], state: RecordState, message_id: str) -> int:
    with factory.begin() as session:
        record = SyncRecord(
            kind=RecordKind.PAYMENT,
            business_key=random_ref("stripe:payment:ch"),
            state=state,
            source_message_id=random_ref("other"),
        )
        session.add(record)
        session.flush()
        session.add(
            AuditEvent(
                record_id=record.id,
                message_id=message_id,
                action="received",
                summary="received",
                outcome="ok",
                actor="test",
            )
        )
        return record.id


class TestDeathHeaders:
    def test_the_work_queue_entry_explains_the_parking(self) -> None:
        reason, queue, at = death(_delivery(b"{}", "m").headers, WORK_QUEUE)
        assert (reason, queue) == ("rejected", WORK_QUEUE)
        assert at == dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)

    def test_without_x_death_the_reason_is_unknown_not_an_error(self) -> None:
        assert death({}, WORK_QUEUE) == ("unknown", None, None)


class TestDeadLetterRecorder:
    def test_a_message_about_no_record_becomes_a_failed_replayable_record_once(
        self, factory: sessionmaker[Session]
    ) -> None:
        envelope = _envelope(random_ref("evt"))
        recorder = DeadLetterRecorder(factory, work_queue=WORK_QUEUE, actor="reconciler")
        delivery = _delivery(envelope.to_json(), envelope.id, reason="delivery_limit")

        recorder(delivery)
        recorder(delivery)  # redelivered after a crash before the ack: nothing new

        with factory() as session:
            dead = session.scalars(
                select(DeadLetter).where(DeadLetter.message_id == envelope.id)
            ).all()
            assert len(dead) == 1
            assert dead[0].reason == "delivery_limit"
            assert bytes(dead[0].body) == envelope.to_json()
            record = session.get_one(SyncRecord, dead[0].record_id)
            assert (record.kind, record.state) == (RecordKind.MESSAGE, RecordState.FAILED)
            assert "redelivered past the queue's limit" in (record.last_error or "")
            # Replayable: the envelope is in the inbox under the record's source message.
            stored = source_message(session, record.source_message_id or "")
            assert stored is not None
            assert stored.payload is not None

    def test_the_records_a_message_touched_fail_with_it_but_settled_ones_stay(
        self, factory: sessionmaker[Session]
    ) -> None:
        envelope = _envelope(random_ref("evt"))
        pending = _record(factory, RecordState.PENDING, envelope.id)
        succeeded = _record(factory, RecordState.SUCCEEDED, envelope.id)

        DeadLetterRecorder(factory, work_queue=WORK_QUEUE, actor="reconciler")(
            _delivery(envelope.to_json(), envelope.id)
        )

        with factory() as session:
            first = session.get_one(SyncRecord, pending)
            second = session.get_one(SyncRecord, succeeded)
            assert first.state is RecordState.FAILED
            assert first.flags.get("dead_letter")
            assert second.state is RecordState.SUCCEEDED
            steps = session.scalars(
                select(AuditEvent.record_id).where(
                    AuditEvent.message_id == envelope.id, AuditEvent.action == "dead-lettered"
                )
            ).all()
            assert sorted(steps) == sorted([pending, succeeded])

    def test_a_late_copy_of_a_processed_message_fails_nothing(
        self, factory: sessionmaker[Session]
    ) -> None:
        envelope = _envelope(random_ref("evt"))
        DeadLetterRecorder(factory, work_queue=WORK_QUEUE, actor="reconciler")(
            _delivery(envelope.to_json(), envelope.id)
        )  # first parking: a failed message record
        with factory.begin() as session:
            mark_inbox_processed(session, envelope.id)  # ...then a replay processed it
        DeadLetterRecorder(factory, work_queue=WORK_QUEUE, actor="reconciler")(
            _delivery(envelope.to_json(), envelope.id, reason="delivery_limit")
        )
        with factory() as session:
            kinds = session.scalars(
                select(SyncRecord.id).where(SyncRecord.source_message_id == envelope.id)
            ).all()
            assert len(kinds) == 1  # no second failed record
            note = session.scalars(
                select(AuditEvent.summary).where(
                    AuditEvent.message_id == envelope.id, AuditEvent.record_id.is_(None)
                )
            ).one()
            assert "nothing is lost" in note


class TestBatchLease:
    def test_lines_make_a_batch_wait_until_a_post_covers_them(
        self, factory: sessionmaker[Session]
    ) -> None:
        journal = random_ref("J")[:10]
        with factory.begin() as session:
            assert claim_batch(session, journal, holder="a", lease_s=30) is None
            note_batch_line(session, journal)
            note_batch_line(session, journal)
        with factory.begin() as session:
            covered = claim_batch(session, journal, holder="a", lease_s=30)
            assert covered == 2
            assert claim_batch(session, journal, holder="b", lease_s=30) is None  # a holds it
        with factory.begin() as session:
            note_batch_line(session, journal)  # written while a posts: waits for the next post
            assert finish_batch(session, journal, holder="a", covered_seq=2, error=None) == 0
        with factory.begin() as session:
            assert claim_batch(session, journal, holder="b", lease_s=30) == 3
            assert finish_batch(session, journal, holder="b", covered_seq=3, error="boom") == 1
        with factory.begin() as session:
            assert claim_batch(session, journal, holder="a", lease_s=30) == 3  # still waiting
            finish_batch(session, journal, holder="a", covered_seq=3, error=None)
            assert claim_batch(session, journal, holder="a", lease_s=30) is None
            batch = session.get_one(JournalBatch, journal)
            assert (batch.written_seq, batch.posted_seq, batch.failures) == (3, 3, 0)

    def test_a_dead_posters_lease_runs_out(self, factory: sessionmaker[Session]) -> None:
        journal = random_ref("J")[:10]
        with factory.begin() as session:
            note_batch_line(session, journal)
            assert claim_batch(session, journal, holder="dead", lease_s=0.2) == 1
        time.sleep(0.3)
        with factory.begin() as session:
            assert claim_batch(session, journal, holder="heir", lease_s=30) == 1


class _RecordingBc:
    """Counts posts and how many run at once; BC's own answer for an empty batch."""

    def __init__(self, open_amount: Decimal | None = None) -> None:
        self.posts = 0
        self.running = 0
        self.most_at_once = 0
        self.checked: list[dict[str, Any]] = []
        self._open = open_amount  # what BC says each invoice has open, for the check
        self._lock = threading.Lock()

    def post_journal(self, journal: str, check: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.posts += 1
            self.checked.extend(check)
        time.sleep(0.02)
        with self._lock:
            self.running -= 1
        overpaid = [
            {
                "external_document_number": line["external_document_number"].upper(),
                "invoice_number": "103001",
                "invoice_remaining_amount": str(self._open),
                "overpaid_by": str(Decimal(line["paid"]) - self._open),
            }
            for line in check
            if self._open is not None and Decimal(line["paid"]) > self._open
        ]
        return {"journal": journal, "posted": None, "overpaid": overpaid}


def _confirmed_line(factory: sessionmaker[Session], journal: str) -> None:
    """What a handler does when it confirms a payment line: posting + note, one transaction."""
    with factory.begin() as session:
        record = SyncRecord(
            kind=RecordKind.PAYMENT,
            business_key=random_ref("stripe:payment:ch"),
            state=RecordState.SUCCEEDED,
        )
        session.add(record)
        session.flush()
        session.add(
            Posting(
                stripe_id=random_ref("ch"),
                kind=PostingKind.PAYMENT,
                state=PostingState.POSTED,
                record_id=record.id,
                bc_company_id="c1",
                bc_invoice_id="i1",
                bc_line_id=random_ref("line"),
                amount=Decimal("-1.00"),
                amount_minor=100,
                currency="usd",
            )
        )
        note_batch_line(session, journal)


def test_posters_in_several_threads_never_post_one_batch_at_once(
    factory: sessionmaker[Session],
) -> None:
    journal = random_ref("P")[:10]
    rules = Rules(payment_journal=journal, auto_post_payments=True, auto_post_refunds=False)
    assert auto_posted_journals(rules) == {journal: AutoPosted((PostingKind.PAYMENT,))}
    bc = _RecordingBc()
    posters = [
        BatchPoster(factory, bc, rules, actor="reconciler", interval_s=0.01) for _ in range(3)
    ]
    stop = threading.Event()
    threads = [poster.start(stop) for poster in posters]
    try:
        for _ in range(40):
            _confirmed_line(factory, journal)
            time.sleep(0.005)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with factory() as session:
                batch = session.get_one(JournalBatch, journal)
                if batch.posted_seq == batch.written_seq == 40:
                    break
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            assert thread is not None
            thread.join(timeout=5)
    assert bc.most_at_once == 1
    assert 1 <= bc.posts <= 40  # amortised: lines confirmed close together share a post
    with factory() as session:
        waiting = session.scalars(
            select(Posting.id).where(
                Posting.kind == PostingKind.PAYMENT, Posting.batch_posted_at.is_(None)
            )
        ).all()
    assert waiting == []


def test_a_line_the_check_before_the_post_finds_overpaying_is_flagged_once(
    factory: sessionmaker[Session],
) -> None:
    journal = random_ref("P")[:10]
    rules = Rules(payment_journal=journal, auto_post_payments=True, auto_post_refunds=False)
    bc = _RecordingBc(open_amount=Decimal("0.70"))  # a clerk booked 0.30 in BC meanwhile
    _confirmed_line(factory, journal)
    poster = BatchPoster(factory, bc, rules, actor="reconciler", interval_s=0.01)
    assert poster.tick() == 1
    assert [line["paid"] for line in bc.checked] == ["1.00"]
    assert bc.checked[0]["bc_invoice_id"] == "i1"
    stripe_id = bc.checked[0]["external_document_number"]
    with factory() as session:
        posting = session.scalars(select(Posting).where(Posting.stripe_id == stripe_id)).one()
        record = session.get_one(SyncRecord, posting.record_id)
        story = session.scalars(
            select(AuditEvent.summary).where(AuditEvent.record_id == record.id)
        ).all()
    assert record.flags == {"overpaid": True, "overpaid_by": "0.30"}
    assert posting.batch_posted_at is not None
    assert any("overpays BC invoice 103001 (open: 0.70) by 0.30" in line for line in story)
