"""When the reconciler vouches for an invoice so bc-gateway skips its look-ups (issue 15).

Every condition of ``handlers.fast_path.known_invoice`` on both dialects: the first claim only,
an invoice the connector pushed and BC has not changed since, the same currency, and a payment
that fits in the open amount together with the invoice's other payments (written or in flight).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from factories import random_ref
from sqlalchemy.orm import Session

from reconciler.handlers.fast_path import known_invoice
from reconciler.handlers.fast_path import link_facts
from reconciler.handlers.fast_path import note_bc_change
from reconciler.handlers.fast_path import shows_change
from reconciler.models import InvoiceLink
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import RecordKind
from reconciler.models import SyncRecord
from reconciler.store import claim_posting
from reconciler.store import release_claim

PUSHED_AT = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
CUSTOMER = "6a1f2c3d-0000-4000-8000-000000000001"


def pushed_invoice(session: Session, *, open_minor: int = 10000, currency: str = "EUR") -> str:
    """A link as a push stores it; returns the BC invoice id."""
    invoice_id = random_ref("inv")
    invoice = {
        "remaining_amount": str(Decimal(open_minor) / 100),
        "last_modified": PUSHED_AT.isoformat(),
        "customer": {"id": CUSTOMER, "currency_code": currency},
    }
    with session.begin_nested():
        session.add(
            InvoiceLink(
                bc_company_id="c1",
                bc_invoice_id=invoice_id,
                bc_invoice_number="103001",
                stripe_invoice_id=random_ref("in"),
                currency=currency,
                total_minor=open_minor,
                **link_facts(invoice, currency),
            )
        )
    return invoice_id


def claim(
    session: Session, invoice_id: str, amount_minor: int, *, kind: PostingKind = PostingKind.PAYMENT
) -> Posting:
    record = SyncRecord(kind=RecordKind.PAYMENT, business_key=f"stripe:{random_ref('ch')}")
    with session.begin_nested():
        session.add(record)
    sign = -1 if kind is PostingKind.PAYMENT else 1
    with session.begin_nested():
        return claim_posting(
            session,
            random_ref("ch"),
            holder=random_ref("attempt"),
            lease_s=60,
            kind=kind,
            record_id=record.id,
            bc_company_id="c1",
            bc_invoice_id=invoice_id,
            amount=Decimal(sign * amount_minor) / 100,
            amount_minor=amount_minor,
            currency="EUR",
        )


def known(
    session: Session,
    posting: Posting,
    invoice_id: str,
    amount_minor: int,
    kind: PostingKind = PostingKind.PAYMENT,
    currency: str = "EUR",
) -> dict[str, object] | None:
    return known_invoice(
        session,
        posting=posting,
        kind=kind,
        company_id="c1",
        bc_invoice_id=invoice_id,
        currency=currency,
        amount_minor=amount_minor,
    )


def test_the_first_write_for_a_pushed_invoice_is_vouched_for(session: Session) -> None:
    invoice_id = pushed_invoice(session)
    posting = claim(session, invoice_id, 10000)
    assert posting.write_attempts == 1
    assert known(session, posting, invoice_id, 10000) == {
        "first_write": True,
        "customer_id": CUSTOMER,
        "invoice_number": "103001",
        "invoice_currency": "EUR",
    }


def test_a_second_claim_of_the_same_posting_takes_the_careful_way(session: Session) -> None:
    invoice_id = pushed_invoice(session)
    posting = claim(session, invoice_id, 10000)
    release_claim(session, posting, str(posting.claimed_by))
    with session.begin_nested():
        again = claim_posting(
            session,
            posting.stripe_id,
            holder="the-next-attempt",
            lease_s=60,
            kind=PostingKind.PAYMENT,
            record_id=posting.record_id,
            bc_company_id="c1",
            bc_invoice_id=invoice_id,
            amount=posting.amount,
            amount_minor=posting.amount_minor,
            currency="EUR",
        )
    session.refresh(again)
    assert again.write_attempts == 2
    assert known(session, again, invoice_id, 10000) is None


def test_an_invoice_the_connector_did_not_push_is_read_from_bc(session: Session) -> None:
    posting = claim(session, "not-pushed", 500)
    assert known(session, posting, "not-pushed", 500) is None


def test_an_invoice_bc_changed_since_the_push_is_read_from_bc(session: Session) -> None:
    invoice_id = pushed_invoice(session)
    link = session.query(InvoiceLink).filter_by(bc_invoice_id=invoice_id).one()
    # The push's own notification (and any copy of it) changes nothing.
    assert not shows_change(link, PUSHED_AT.isoformat())
    assert not shows_change(link, None)
    later = (PUSHED_AT + dt.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert shows_change(link, later)
    with session.begin_nested():
        note_bc_change(session, link.id)
    session.refresh(link)
    assert link.bc_changed_at is not None
    assert not shows_change(link, later)  # noted once
    posting = claim(session, invoice_id, 100)
    assert known(session, posting, invoice_id, 100) is None


def test_a_payment_beyond_the_open_amount_is_read_from_bc(session: Session) -> None:
    invoice_id = pushed_invoice(session, open_minor=10000)
    first = claim(session, invoice_id, 6000)
    assert known(session, first, invoice_id, 6000) is not None
    # The first one is still in flight: it counts, so 6,000 + 4,001 is more than is open.
    second = claim(session, invoice_id, 4001)
    assert known(session, second, invoice_id, 4001) is None
    # Exactly what is open still fits.
    other = pushed_invoice(session, open_minor=10000)
    assert known(session, claim(session, other, 6000), other, 6000) is not None
    assert known(session, claim(session, other, 4000), other, 4000) is not None


def test_a_refund_needs_no_open_amount(session: Session) -> None:
    invoice_id = pushed_invoice(session, open_minor=100)
    refund = claim(session, invoice_id, 5000, kind=PostingKind.REFUND)
    assert known(session, refund, invoice_id, 5000, kind=PostingKind.REFUND) is not None


def test_another_currency_or_a_customer_in_another_currency_is_read_from_bc(
    session: Session,
) -> None:
    invoice_id = pushed_invoice(session)
    posting = claim(session, invoice_id, 100)
    assert known(session, posting, invoice_id, 100, currency="USD") is None
    facts = link_facts(
        {"remaining_amount": "10.00", "customer": {"id": CUSTOMER, "currency_code": "USD"}},
        "EUR",
    )
    assert facts["bc_customer_id"] is None  # BC would book it in the customer's currency
    assert facts["bc_open_minor"] == 1000
