"""Refunds: the cash leg at once, the customer side for a person (docs/accounting.md).

``charge.refunded`` (which Stripe sends for partial refunds too) re-reads the charge with its
refunds. Each succeeded refund not booked yet leaves the clearing account on the refund's date:
a general line from "Refunds to settle" (``MLC_REFUND_ACCOUNT``) against the clearing account of
the currency Stripe took it from (the refund's balance transaction), so the next payout nets to
zero without waiting for anyone. The customer-side document is a business decision the
standard API cannot make (bc-api.md §9.7): the refund's record says what to post in BC, and is
flagged as needing a person until someone marks it handled.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mlconnector.money import MoneyError
from mlconnector.money import format_amount
from reconciler.handlers import cash_moves
from reconciler.handlers.postings import unmatched
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.unit import Unit


def on_charge_refunded(unit: Unit) -> None:
    deps: HandlerDeps = unit.deps
    charge_id = str(unit.envelope.data["object_id"])
    charge = unit.call(
        None, f"fetched Stripe charge {charge_id}", deps.stripe.get_charge, charge_id
    )
    invoice = charge.get("invoice") if isinstance(charge.get("invoice"), dict) else None
    metadata = (invoice or {}).get("metadata") or charge.get("metadata") or {}
    paid = unit.read(
        lambda s: s.execute(
            select(Posting.bc_company_id, Posting.bc_invoice_id).where(
                Posting.stripe_id == charge_id
            )
        ).first()
    )
    for refund in charge.get("refunds", []):
        if refund.get("status") != "succeeded":
            continue
        _book_refund(unit, charge, refund, metadata, paid)


def _book_refund(
    unit: Unit,
    charge: dict[str, Any],
    refund: dict[str, Any],
    metadata: dict[str, Any],
    paid: Any,
) -> None:
    deps: HandlerDeps = unit.deps
    refund_id = str(refund["id"])
    currency = str(refund.get("currency") or charge["currency"]).lower()
    record_id = unit.record(
        RecordKind.REFUND,
        f"stripe:refund:{refund_id}",
        stripe_ref=refund_id,
        amount_minor=int(refund["amount"]),
        currency=currency,
    )
    company = str(metadata.get("bc_company_id") or (paid[0] if paid else ""))
    invoice_id = str(metadata.get("bc_invoice_id") or (paid[1] if paid else "") or "")
    number = str(metadata.get("bc_invoice_number") or invoice_id or "")
    moved_minor, moved_currency = cash_moves.settled_amount(
        refund.get("settlement"), -int(refund["amount"]), currency
    )
    move = cash_moves.CashMove(
        kind=PostingKind.REFUND,
        stripe_id=refund_id,
        amount_minor=moved_minor,
        currency=moved_currency,
        account=deps.rules.refund_account,
        prefix="RF",
        text=f"refund {refund_id} of charge {charge['id']}",
        bc_company_id=company,
    )
    done_before = unit.read(lambda s: s.get_one(SyncRecord, record_id).state)
    try:
        cash_moves.book(unit, record_id, move)
    except MoneyError as exc:
        unmatched(unit, record_id, str(exc))
        return
    if done_before is RecordState.SUCCEEDED:
        return  # its item may have been handled since: leave the record as it is
    shown = format_amount(int(refund["amount"]), currency)
    todo = (
        f"Refund of {shown} to the client"
        + (f" for BC invoice {number}" if number else "")
        + f": its cash left the clearing account to G/L {deps.rules.refund_account}. In BC, "
        "post a sales credit memo for it (applied to the invoice, or left on account), then a "
        "cash receipt journal line of Document Type Refund for the customer against G/L "
        f"{deps.rules.refund_account}; then mark this item handled."
    )
    unit.step(record_id, "result", todo)
    unit.update(
        record_id,
        state=RecordState.SUCCEEDED,
        bc_company_id=company or None,
        bc_ref=invoice_id or None,
        bc_number=number or None,
        flags={"needs_person": "refund_customer_side", "todo": todo},
        last_error=None,
    )
