"""Reconciler tables on both dialects: uniqueness, exact money, aware timestamps, JSON, enums."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import Decimal
from typing import Any
from typing import TypeVar

import pytest
from factories import random_ref
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from reconciler.models import AuditAction
from reconciler.models import AuditEvent
from reconciler.models import AuditOutcome
from reconciler.models import CustomerLink
from reconciler.models import InboxMessage
from reconciler.models import InvoiceLink
from reconciler.models import MessageSource
from reconciler.models import Payout
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord

T = TypeVar("T")


def add(session: Session, row: T) -> T:
    """Insert ``row`` (a savepoint inside the test transaction) and return it."""
    with session.begin_nested():
        session.add(row)
    return row


def reload(session: Session, row: T) -> T:
    """Read ``row`` back from the database, not from the identity map."""
    session.expire(row)
    session.refresh(row)
    return row


def record(session: Session, kind: RecordKind = RecordKind.PAYMENT) -> SyncRecord:
    return add(session, SyncRecord(kind=kind, business_key=f"stripe:{random_ref('pi')}"))


def posting(record_id: int, amount: Decimal, amount_minor: int, currency: str) -> Posting:
    return Posting(
        stripe_id=random_ref("py"),
        kind=PostingKind.PAYMENT,
        record_id=record_id,
        bc_company_id="c1",
        bc_invoice_id="inv-1",
        amount=amount,
        amount_minor=amount_minor,
        currency=currency,
    )


def customer_link(company: str, customer: str, stripe_customer: str) -> CustomerLink:
    return CustomerLink(
        bc_company_id=company, bc_customer_id=customer, stripe_customer_id=stripe_customer
    )


def invoice_link(company: str, invoice: str, stripe_invoice: str) -> InvoiceLink:
    return InvoiceLink(
        bc_company_id=company,
        bc_invoice_id=invoice,
        stripe_invoice_id=stripe_invoice,
        currency="eur",
        total_minor=12_345,
    )


class TestUniqueness:
    def test_a_bc_customer_links_to_one_stripe_customer(self, session: Session) -> None:
        add(session, customer_link("c1", "cust-1", "cus_A"))

        with pytest.raises(IntegrityError, match="(?i)unique"):
            add(session, customer_link("c1", "cust-1", "cus_B"))

    def test_a_stripe_customer_links_to_one_bc_customer(self, session: Session) -> None:
        add(session, customer_link("c1", "cust-1", "cus_A"))

        with pytest.raises(IntegrityError, match="(?i)unique"):
            add(session, customer_link("c2", "cust-9", "cus_A"))

    def test_the_same_bc_customer_id_in_another_company_is_another_customer(
        self, session: Session
    ) -> None:
        add(session, customer_link("c1", "cust-1", "cus_A"))
        add(session, customer_link("c2", "cust-1", "cus_B"))

        assert session.scalar(select(text("count(*)")).select_from(CustomerLink)) == 2

    def test_invoice_links_are_unique_on_each_side(self, session: Session) -> None:
        add(session, invoice_link("c1", "inv-1", "in_A"))

        with pytest.raises(IntegrityError):
            add(session, invoice_link("c1", "inv-1", "in_B"))
        with pytest.raises(IntegrityError):
            add(session, invoice_link("c1", "inv-2", "in_A"))

    def test_one_sync_record_per_kind_and_business_key(self, session: Session) -> None:
        add(session, SyncRecord(kind=RecordKind.PAYMENT, business_key="stripe:pi_1"))
        # The same key under another kind is a different thing.
        add(session, SyncRecord(kind=RecordKind.REFUND, business_key="stripe:pi_1"))

        with pytest.raises(IntegrityError):
            add(session, SyncRecord(kind=RecordKind.PAYMENT, business_key="stripe:pi_1"))

    def test_one_payout_row_per_stripe_payout(self, session: Session) -> None:
        add(session, Payout(stripe_payout_id="po_1", amount_minor=100, currency="usd"))

        with pytest.raises(IntegrityError):
            add(session, Payout(stripe_payout_id="po_1", amount_minor=100, currency="usd"))

    def test_audit_events_must_point_at_an_existing_record(self, session: Session) -> None:
        event = AuditEvent(
            record_id=987_654_321,
            action=AuditAction.DECIDED,
            summary="orphan",
            outcome=AuditOutcome.OK,
            actor="reconciler",
        )

        with pytest.raises(IntegrityError, match="(?i)foreign key"):
            add(session, event)


class TestMoney:
    @pytest.mark.parametrize(
        ("amount", "amount_minor", "currency"),
        [
            (Decimal("-1234.567"), 1_234_567, "kwd"),  # three-decimal currency, BC sign
            (Decimal("0.0000000001"), 1, "usd"),  # smallest step of the column
            (Decimal("999999999999999999.9999999999"), 2**63 - 1, "jpy"),  # both maxima
            (Decimal("90071992547409.93"), 2**53 + 1, "eur"),  # a float would lose the 3
        ],
    )
    def test_amounts_round_trip_exactly(
        self, session: Session, amount: Decimal, amount_minor: int, currency: str
    ) -> None:
        parent = record(session)
        row = reload(session, add(session, posting(parent.id, amount, amount_minor, currency)))

        assert type(row.amount) is Decimal
        assert row.amount == amount
        assert row.amount.as_tuple().exponent == -10  # same scale on both dialects
        assert type(row.amount_minor) is int
        assert row.amount_minor == amount_minor

    def test_currency_is_stored_lowercase(self, session: Session) -> None:
        parent = record(session)
        row = reload(session, add(session, posting(parent.id, Decimal("1.000"), 1000, "KWD")))

        assert row.currency == "kwd"

    def test_a_currency_that_is_not_three_letters_is_refused(self) -> None:
        with pytest.raises(ValueError, match="three-letter"):
            posting(1, Decimal(1), 100, "EURO")

    @pytest.mark.parametrize(
        ("amount", "problem"),
        [
            (12.5, "not float"),
            (Decimal("1.00000000001"), "more than 10 decimal places"),
            (Decimal("-999999999999999999.99999999999"), "more than 10 decimal places"),
            (Decimal("1e18"), "more than 18 integer digits"),
            (Decimal("NaN"), "not a finite amount"),
        ],
    )
    def test_inexact_amounts_are_refused_on_write(
        self, session: Session, amount: Any, problem: str
    ) -> None:
        parent = record(session)

        with pytest.raises(StatementError, match=problem):
            add(session, posting(parent.id, amount, 1, "usd"))


class TestTimestamps:
    def test_defaults_come_back_aware_in_utc(self, session: Session) -> None:
        before = datetime.now(UTC)
        row = reload(session, record(session))

        assert row.created_at.tzinfo is UTC
        assert row.updated_at.tzinfo is UTC
        assert before - timedelta(seconds=5) <= row.created_at <= datetime.now(UTC)

    def test_an_aware_time_in_another_zone_is_stored_as_the_same_instant(
        self, session: Session
    ) -> None:
        stockholm = timezone(timedelta(hours=2))
        seen = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=stockholm)
        row = add(
            session,
            InboxMessage(
                message_id=random_ref("evt"),
                message_type="t",
                source=MessageSource.STRIPE,
                first_seen_at=seen,
            ),
        )

        reloaded = reload(session, row)

        assert reloaded.first_seen_at == seen
        assert reloaded.first_seen_at.tzinfo is UTC
        assert reloaded.first_seen_at.hour == 10

    def test_a_naive_datetime_is_refused(self, session: Session) -> None:
        row = InboxMessage(
            message_id=random_ref("evt"),
            message_type="t",
            source=MessageSource.STRIPE,
            first_seen_at=datetime(2026, 3, 1, 12, 0),  # naive on purpose
        )

        with pytest.raises(StatementError, match="naive datetime"):
            add(session, row)

    def test_updated_at_moves_on_update(self, session: Session) -> None:
        row = record(session)
        first = row.updated_at

        with session.begin_nested():
            row.state = RecordState.SUCCEEDED

        assert reload(session, row).updated_at > first


class TestDocumentsAndStates:
    def test_json_documents_round_trip(self, session: Session) -> None:
        unmatched = [{"balance_transaction": "txn_1", "reason": "no posting", "amount": 2**53 + 1}]
        payout = add(
            session,
            Payout(
                stripe_payout_id=random_ref("po"),
                amount_minor=10_000,
                fee_minor=-290,
                net_minor=9_710,
                currency="usd",
                arrival_date=date(2026, 3, 2),
                unmatched=unmatched,
            ),
        )

        reloaded = reload(session, payout)

        assert reloaded.unmatched == unmatched
        assert reloaded.arrival_date == date(2026, 3, 2)

    def test_flags_default_to_an_empty_object_and_none_is_sql_null(self, session: Session) -> None:
        row = reload(session, record(session))
        add(
            session,
            InboxMessage(
                message_id=random_ref("evt"),
                message_type="t",
                source=MessageSource.BC,
                payload=None,
            ),
        )

        assert row.flags == {}
        nulls = session.scalar(
            select(text("count(*)")).select_from(InboxMessage).where(InboxMessage.payload.is_(None))
        )
        assert nulls == 1

    def test_states_come_back_as_enum_members_stored_as_their_values(
        self, session: Session
    ) -> None:
        row = add(
            session,
            SyncRecord(
                kind=RecordKind.INVOICE, business_key=random_ref("bc"), state=RecordState.UNMATCHED
            ),
        )

        assert reload(session, row).state is RecordState.UNMATCHED
        stored = session.execute(
            text("SELECT kind, state FROM sync_records WHERE id = :id"), {"id": row.id}
        ).one()
        assert tuple(stored) == ("invoice", "unmatched")

    def test_an_unknown_state_is_refused(self, session: Session) -> None:
        row = SyncRecord(kind=RecordKind.INVOICE, business_key=random_ref("bc"))
        row.state = "done"  # type: ignore[assignment]

        with pytest.raises(StatementError, match="done"):
            add(session, row)
