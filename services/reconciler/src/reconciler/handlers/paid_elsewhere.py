"""An invoice paid another way in BC: Stripe stops asking for what was paid (issue 14).

A bank transfer or a check applied in BC lowers the invoice's open amount there and nowhere
else; left alone, the client could pay the same amount again through Stripe's payment page.
The invoice poll (``bc-gateway poll-invoices``, every 15 minutes) reads each changed invoice's
status, total and open amount anyway, so this check costs no BC call in the common case: what
BC's open amount went down by is compared with what the connector knows went into it:

    paid elsewhere = (total - open in BC) - the connector's payments for it (posted or not)
                     - the credit memos mirrored to Stripe - what was already recorded

The connector's own payments are counted even before BC posts them, so the figure can only be
too small for a while (the rest follows at the next poll), never too large. Only when it is
positive are BC's credit memos of the invoice read, in case one has not reached the connector
yet. Then Stripe records it: the whole remainder paid out of band, or, for a part, a payment
record attached to the invoice (``stripe-gateway``, ``invoice_changes.pay_elsewhere``). The
running total is kept on the link, so each part is recorded once. A Stripe invoice that can no
longer take it (the client paid in Stripe too, or it is void) is an item for a person.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlconnector.money import MoneyError
from mlconnector.money import format_amount
from mlconnector.money import to_minor
from reconciler.adapters.http import GatewayRejected
from reconciler.models import AuditOutcome
from reconciler.models import InvoiceLink
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.unit import Unit


def _payments(session: Session, link: InvoiceLink) -> int:
    """The connector's payments for the invoice, written to BC or on their way (minor)."""
    paid = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_minor), 0)).where(
            Posting.kind == PostingKind.PAYMENT,
            Posting.bc_company_id == link.bc_company_id,
            Posting.bc_invoice_id == link.bc_invoice_id,
            Posting.currency == link.currency,
        )
    )
    return int(paid or 0)


def _mirrored(session: Session, link: InvoiceLink) -> int:
    """The credit memos of the invoice the connector has mirrored to Stripe (minor)."""
    credited = session.scalar(
        select(func.coalesce(func.sum(SyncRecord.amount_minor), 0)).where(
            SyncRecord.kind == RecordKind.CREDIT_MEMO,
            SyncRecord.stripe_ref == link.stripe_invoice_id,
            SyncRecord.state == RecordState.SUCCEEDED,
        )
    )
    return int(credited or 0)


def check(unit: Unit, record_id: int, link: InvoiceLink, amounts: dict[str, Any]) -> None:
    """Compare BC's open amount (from the poll) with what the connector knows; act on the rest."""
    deps: HandlerDeps = unit.deps
    if amounts.get("status") not in ("Open", "Paid"):
        return  # a draft, or Canceled: the corrective credit memo speaks for it
    currency = link.currency
    try:
        total = to_minor(Decimal(amounts["total_amount"]), currency)
        still_open = to_minor(Decimal(amounts["remaining_amount"]), currency)
    except (MoneyError, KeyError, ArithmeticError):
        return  # amounts in another currency or malformed: the push path reports those
    link_id = link.id
    paid, mirrored, recorded = unit.read(
        lambda s: (
            _payments(s, link),
            _mirrored(s, link),
            s.get_one(InvoiceLink, link_id).paid_elsewhere_minor,
        )
    )
    reduced = total - still_open
    if reduced - paid - mirrored - recorded <= 0:
        return
    memos = unit.call(
        record_id,
        f"read the credit memos of BC invoice {link.bc_invoice_number}",
        deps.bc.credit_memos_of,
        link.bc_invoice_id,
    )
    credited_in_bc = sum(
        to_minor(Decimal(str(m["total_amount_including_tax"])), currency)
        for m in memos
        if m.get("posted")
    )
    elsewhere = reduced - paid - credited_in_bc - recorded
    if elsewhere <= 0:
        unit.step(
            record_id,
            "decided",
            f"BC invoice {link.bc_invoice_number}'s open amount fell by "
            f"{format_amount(reduced, currency)}: its credit memos and the connector's payments "
            "explain it",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    shown = format_amount(elsewhere, currency)
    command = {
        "key": f"bc-paid-{link.bc_invoice_id}-{recorded + elsewhere}",
        "amount_minor": elsewhere,
        "reference": f"BC invoice {link.bc_invoice_number}",
    }
    try:
        result = unit.call(
            record_id,
            f"recorded {shown} paid outside Stripe on Stripe invoice {link.stripe_invoice_id}",
            deps.stripe.pay_elsewhere,
            link.stripe_invoice_id,
            command,
            request=command,
        )
    except GatewayRejected as exc:
        if exc.code != "invalid_state":
            raise
        todo = (
            f"BC invoice {link.bc_invoice_number} was paid {shown} another way (applied in BC), "
            f"but Stripe invoice {link.stripe_invoice_id} cannot take it: {exc.message}. The "
            "client may have paid twice: check both, and refund in Stripe if so."
        )
        unit.step(record_id, "decided", todo, outcome=AuditOutcome.SKIPPED)
        unit.add_flags(record_id, needs_person="paid_twice", todo=todo)
        return
    with unit.tx() as session:
        row = session.get_one(InvoiceLink, link_id, populate_existing=True)
        row.paid_elsewhere_minor = recorded + elsewhere
    how = {"out_of_band": "marked paid out of band", "payment_record": "took a payment record"}
    left = int((result.get("invoice") or {}).get("amount_remaining") or 0)
    unit.step(
        record_id,
        "result",
        f"BC invoice {link.bc_invoice_number} was paid {shown} another way: Stripe invoice "
        f"{link.stripe_invoice_id} {how.get(str(result.get('how')), 'was updated')} and now "
        f"asks for {format_amount(left, currency)}",
    )
    unit.add_flags(record_id, paid_elsewhere=format_amount(recorded + elsewhere, currency))
