"""Recovering a Stripe invoice an earlier push made (issue 11, finding 3).

The decisions are pure functions; ``recover_pushed`` is run on a migrated SQLite database with
the stripe-gateway port answering from a small fake (the gateway's look-up itself is tested
against the Stripe emulator in tests/integration/stripe_gateway/test_invoice_recovery.py).
"""

from __future__ import annotations

import datetime as dt
import types
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.contracts import Envelope
from reconciler.handlers.push_recovery import REVIEW_FLAG
from reconciler.handlers.push_recovery import Earlier
from reconciler.handlers.push_recovery import Recovery
from reconciler.handlers.push_recovery import may_have_pushed
from reconciler.handlers.push_recovery import recover_pushed
from reconciler.handlers.push_recovery import recovered_story
from reconciler.handlers.push_recovery import recovery_for
from reconciler.models import AuditEvent
from reconciler.models import CustomerLink
from reconciler.models import InvoiceLink
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.unit import Unit

STALE_503 = "GatewayUnavailable: stripe-gateway POST /commands/invoices answered 503"


def _earlier(**overrides: Any) -> Earlier:
    values: dict[str, Any] = {
        "state": RecordState.PENDING,
        "attempts": 1,
        "last_error": STALE_503,
        "stripe_ref": None,
    }
    values.update(overrides)
    return Earlier(**values)


def _invoice(**overrides: Any) -> dict[str, Any]:
    invoice: dict[str, Any] = {
        "id": "in_1Abc",
        "number": "ABCD-0001",
        "status": "paid",
        "total": 30000,
        "currency": "usd",
        "metadata": {"bc_invoice_number": "103001"},
    }
    invoice.update(overrides)
    return invoice


class TestMayHavePushed:
    def test_a_record_this_message_created_has_no_earlier_attempt(self) -> None:
        assert not may_have_pushed(None)

    @pytest.mark.parametrize(
        "earlier",
        [
            _earlier(),  # a lost answer: the retry
            _earlier(state=RecordState.FAILED, attempts=5),  # failed for good, then replayed
            _earlier(attempts=0, last_error=None),  # a delivery that died mid-way, or a replay
            _earlier(attempts=0),
        ],
    )
    def test_an_unsettled_record_without_a_stripe_reference_may_have_been_pushed(
        self, earlier: Earlier
    ) -> None:
        assert may_have_pushed(earlier)

    @pytest.mark.parametrize(
        "earlier",
        [
            _earlier(stripe_ref="in_1Abc"),
            _earlier(state=RecordState.SUCCEEDED),
            # Settled by a run that already looked (or had nothing to look for).
            _earlier(state=RecordState.SKIPPED),
            _earlier(state=RecordState.FAILED, attempts=0, last_error=None),
        ],
    )
    def test_a_settled_or_referenced_record_needs_no_look_up(self, earlier: Earlier) -> None:
        assert not may_have_pushed(earlier)

    def test_the_story_names_the_earlier_failure(self) -> None:
        assert _earlier(attempts=2).describe() == (
            f"2 earlier attempt(s) failed, the last with {STALE_503}"
        )
        assert _earlier(attempts=0, last_error=None).describe() == (
            "an earlier delivery did not finish"
        )
        long = _earlier(last_error="x" * 500).describe()
        assert long.endswith("x…")
        assert len(long) < 220


class TestWhatIsFound:
    def test_a_draft_is_deleted_and_anything_finalized_is_linked(self) -> None:
        assert recovery_for("draft") is Recovery.DELETE_DRAFT
        for status in ("open", "paid", "uncollectible", "void"):
            assert recovery_for(status) is Recovery.LINK

    def test_a_paid_invoice_tells_how_it_was_found(self) -> None:
        story = recovered_story(_invoice(), "103001", "is Paid")
        assert story == (
            "recovered Stripe invoice in_1Abc created by an earlier attempt whose answer was "
            "lost; it is paid (Stripe number ABCD-0001, 300.00 USD)"
        )

    @pytest.mark.parametrize("status", ["open", "uncollectible"])
    def test_a_still_payable_invoice_of_a_closed_bc_invoice_is_flagged(self, status: str) -> None:
        story = recovered_story(_invoice(status=status, number=None), "103001", "is Canceled")
        assert story.startswith("recovered Stripe invoice in_1Abc created by an earlier attempt")
        assert f"it is {status} (300.00 USD)" in story
        assert "BC invoice 103001 is Canceled" in story
        assert story.endswith("flagged for review")

    def test_amounts_are_in_the_invoice_currency(self) -> None:
        story = recovered_story(_invoice(total=145500, currency="jpy"), "103002", "is Paid")
        assert "145500 JPY" in story


COMPANY, BC_INVOICE, BC_CUSTOMER = "c0mpany", "inv-1", "cust-1"
T0 = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)


class FakeStripeGateway:
    """The two commands ``recover_pushed`` uses, answering what a test says Stripe holds."""

    def __init__(self, found: dict[str, Any] | None) -> None:
        self.found = found
        self.asked_with: list[str | None] = []
        self.deleted: list[str] = []

    def find_invoice_for_bc(
        self, bc_company_id: str, bc_invoice_id: str, stripe_customer_id: str | None
    ) -> dict[str, Any]:
        assert (bc_company_id, bc_invoice_id) == (COMPANY, BC_INVOICE)
        self.asked_with.append(stripe_customer_id)
        return {
            "invoice": self.found,
            "matched_by": "customer" if stripe_customer_id else "search",
            "candidates": int(self.found is not None),
        }

    def delete_draft_invoice(self, invoice_id: str) -> dict[str, Any]:
        self.deleted.append(invoice_id)
        return {"id": invoice_id, "deleted": True, "deleted_now": len(self.deleted) == 1}


@pytest.fixture
def record_id(sessions: sessionmaker[Session]) -> int:
    """An invoice record whose first push failed with a 503, and its customer's link."""
    with sessions.begin() as session:
        session.add(
            CustomerLink(
                bc_company_id=COMPANY, bc_customer_id=BC_CUSTOMER, stripe_customer_id="cus_1"
            )
        )
        record = SyncRecord(
            kind=RecordKind.INVOICE,
            business_key=f"bc:{COMPANY}:invoice:{BC_INVOICE}",
            state=RecordState.PENDING,
            bc_company_id=COMPANY,
            bc_ref=BC_INVOICE,
            attempts=1,
            last_error=STALE_503,
        )
        session.add(record)
        session.flush()
        return record.id


def _recover(
    sessions: sessionmaker[Session],
    record_id: int,
    stripe: FakeStripeGateway,
    *,
    bc_state: str = "is Paid",
    bc_customer_id: str | None = BC_CUSTOMER,
) -> bool:
    envelope = Envelope(
        id="msg-" + str(len(stripe.asked_with)),
        type="bc.invoice.observed",
        source="bc",
        occurred_at=T0,
        received_at=T0,
        correlation_id="corr-1",
        data={},
    )
    unit = Unit(sessions, envelope, actor="test", deps=types.SimpleNamespace(stripe=stripe))
    with sessions() as session:
        earlier = Earlier.of(session.get_one(SyncRecord, record_id))
    linked = recover_pushed(
        unit,
        record_id,
        earlier,
        company_id=COMPANY,
        invoice_id=BC_INVOICE,
        bc_number="103001",
        bc_state=bc_state,
        bc_customer_id=bc_customer_id,
    )
    with unit.tx():
        pass  # what the processor's closing transaction does: write the remaining steps
    return linked


def _state(sessions: sessionmaker[Session], record_id: int) -> tuple[SyncRecord, list[Any]]:
    with sessions() as session:
        record = session.get_one(SyncRecord, record_id)
        links = session.execute(
            select(InvoiceLink.stripe_invoice_id, InvoiceLink.total_minor, InvoiceLink.currency)
        ).all()
        session.expunge(record)
        return record, [tuple(link) for link in links]


def _story(sessions: sessionmaker[Session], record_id: int) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent.summary)
                .where(AuditEvent.record_id == record_id)
                .order_by(AuditEvent.id)
            )
        )


class TestRecoverPushed:
    def test_a_paid_invoice_is_linked_and_the_record_succeeds_with_its_story(
        self, sessions: sessionmaker[Session], record_id: int
    ) -> None:
        stripe = FakeStripeGateway(_invoice())

        assert _recover(sessions, record_id, stripe)

        record, links = _state(sessions, record_id)
        assert stripe.asked_with == ["cus_1"]  # the customer's list, not the lagging search
        assert (record.state, record.stripe_ref, record.last_error) == (
            RecordState.SUCCEEDED,
            "in_1Abc",
            None,
        )
        assert (record.amount_minor, record.currency, record.bc_number) == (30000, "usd", "103001")
        assert record.flags == {}
        assert links == [("in_1Abc", 30000, "usd")]
        story = _story(sessions, record_id)
        assert story[0].startswith("BC invoice 103001 is Paid, but 1 earlier attempt(s) failed")
        assert any(text.startswith("recovered Stripe invoice in_1Abc") for text in story)

    def test_two_messages_recovering_the_same_record_leave_one_link(
        self, sessions: sessionmaker[Session], record_id: int
    ) -> None:
        stripe = FakeStripeGateway(_invoice())
        with sessions.begin() as session:
            # The other message read the record before the first one settled it.
            session.get_one(SyncRecord, record_id).state = RecordState.PENDING

        assert _recover(sessions, record_id, stripe)
        with sessions.begin() as session:
            session.get_one(SyncRecord, record_id).state = RecordState.PENDING
        assert _recover(sessions, record_id, stripe)

        record, links = _state(sessions, record_id)
        assert (record.state, record.last_error) == (RecordState.SUCCEEDED, None)
        assert links == [("in_1Abc", 30000, "usd")]

    def test_an_invoice_still_payable_for_a_closed_bc_invoice_is_linked_and_flagged(
        self, sessions: sessionmaker[Session], record_id: int
    ) -> None:
        stripe = FakeStripeGateway(_invoice(status="open"))

        assert _recover(sessions, record_id, stripe, bc_state="is Canceled")

        record, _ = _state(sessions, record_id)
        assert record.state is RecordState.SUCCEEDED
        assert record.flags == {REVIEW_FLAG: "in_1Abc"}
        assert stripe.deleted == []  # never voided or deleted: a person decides

    def test_a_draft_is_deleted_and_nothing_is_linked(
        self, sessions: sessionmaker[Session], record_id: int
    ) -> None:
        stripe = FakeStripeGateway(_invoice(status="draft", number=None))

        assert not _recover(sessions, record_id, stripe, bc_state="is Canceled")

        record, links = _state(sessions, record_id)
        assert stripe.deleted == ["in_1Abc"]
        assert (record.state, record.stripe_ref, links) == (RecordState.PENDING, None, [])
        assert any(
            "left draft Stripe invoice in_1Abc; deleted it" in t
            for t in _story(sessions, record_id)
        )

    def test_without_a_linked_customer_stripe_is_searched_and_a_miss_says_so(
        self, sessions: sessionmaker[Session], record_id: int
    ) -> None:
        stripe = FakeStripeGateway(None)

        assert not _recover(sessions, record_id, stripe, bc_customer_id=None)

        assert stripe.asked_with == [None]
        assert any("search may not show one" in t for t in _story(sessions, record_id))
        assert _state(sessions, record_id)[1] == []
