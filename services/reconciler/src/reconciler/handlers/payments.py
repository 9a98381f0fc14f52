"""Inbound payments: ``invoice.paid`` and ``charge.succeeded`` lead to one posting per payment.

Whichever event arrives first (and however often), the handler re-reads the Stripe invoice
with its payments and posts every paid payment of it that is not posted yet, keyed by the
charge id. Both events therefore converge on the same postings, and duplicates are no-ops.
A later event for a payment already in BC stops before any Stripe read: ``charge.succeeded``
when its charge is settled, ``invoice.paid`` when the invoice's settled postings cover its total.
``charge.succeeded`` reads the invoice it paid in one call (through the charge's PaymentIntent),
so a payment costs at most two Stripe calls even when both events are handled at once.
Partial payments post what was paid; overpayment posts what was paid and is flagged. A payment
left unmatched keeps who paid (``reconciler.payers``), so the console's search finds it by the
payer's e-mail, name or Stripe customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reconciler.handlers.postings import already_settled
from reconciler.handlers.postings import post_to_bc
from reconciler.models import AuditOutcome
from reconciler.models import InvoiceLink
from reconciler.models import Posting
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.payers import payer_of
from reconciler.rules import HandlerDeps
from reconciler.unit import Unit


def on_invoice_paid(unit: Unit) -> None:
    deps: HandlerDeps = unit.deps
    invoice_id = str(unit.envelope.data["object_id"])
    covered = unit.read(lambda session: _covering_records(session, invoice_id))
    if covered:
        # charge.succeeded (or an earlier copy of this event) got there first, for every
        # payment of the invoice: no Stripe read needed to know there is nothing left.
        unit.touch(covered[0])
        unit.step(
            covered[0],
            "decided",
            f"Stripe invoice {invoice_id} is paid, and its {len(covered)} payment(s) in BC "
            "already cover its total; nothing to do",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    invoice = unit.call(
        None, f"fetched Stripe invoice {invoice_id}", deps.stripe.get_invoice, invoice_id
    )
    post_invoice_payments(unit, invoice)


def _covering_records(session: Session, stripe_invoice_id: str) -> list[int]:
    """The succeeded payment records of a linked invoice, if their postings cover its total."""
    link = session.scalar(
        select(InvoiceLink).where(InvoiceLink.stripe_invoice_id == stripe_invoice_id)
    )
    if link is None:
        return []
    rows = session.execute(
        select(Posting.record_id, Posting.amount_minor)
        .join(SyncRecord, SyncRecord.id == Posting.record_id)
        .where(
            Posting.kind == PostingKind.PAYMENT,
            Posting.bc_company_id == link.bc_company_id,
            Posting.bc_invoice_id == link.bc_invoice_id,
            Posting.currency == link.currency,
            Posting.state == PostingState.POSTED,
            SyncRecord.state == RecordState.SUCCEEDED,
        )
        .order_by(Posting.id)
    ).all()
    if sum(int(row.amount_minor) for row in rows) < link.total_minor:
        return []
    return [int(row.record_id) for row in rows]


def on_charge_succeeded(unit: Unit) -> None:
    deps: HandlerDeps = unit.deps
    charge_id = str(unit.envelope.data["object_id"])
    if already_settled(unit, PostingKind.PAYMENT, charge_id):
        return  # invoice.paid (or an earlier copy of this event) got there first
    if _post_from_invoice_payment(unit, charge_id):
        return
    charge = unit.call(
        None, f"fetched Stripe charge {charge_id}", deps.stripe.get_charge, charge_id
    )
    if charge.get("status") != "succeeded":
        unit.step(
            None,
            "ignored",
            f"charge {charge_id} is {charge.get('status')}; nothing to post",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    invoice = charge.get("invoice") if isinstance(charge.get("invoice"), dict) else None
    invoice_payment = charge.get("invoice_payment") or {}
    # For an invoice payment the invoice's metadata names the BC invoice; a charge made outside
    # Stripe invoicing is posted only if it names its BC invoice itself.
    post_to_bc(
        unit,
        kind=PostingKind.PAYMENT,
        stripe_id=charge_id,
        amount_minor=int(invoice_payment.get("amount_paid") or charge["amount"]),
        currency=str(charge["currency"]),
        metadata=bc_references((invoice or {}).get("metadata"), charge.get("metadata")),
        source=f"Stripe invoice {invoice.get('number') or invoice['id']}"
        if invoice
        else f"charge {charge_id}",
        payer=payer_of(charge, invoice),
    )


def _post_from_invoice_payment(unit: Unit, charge_id: str) -> bool:
    """Post an invoice payment from one Stripe read; False when the charge must be read.

    The event's charge names its PaymentIntent (fixed for the charge's life, so the hint is
    safe to use); the invoice payment for that intent, with its invoice, is all a posting
    needs. A charge that paid no invoice (or not through this intent) falls back to the
    charge read.
    """
    deps: HandlerDeps = unit.deps
    obj = unit.envelope.data.get("object")
    intent = obj.get("payment_intent") if isinstance(obj, dict) else None
    if not isinstance(intent, str) or not intent.startswith("pi_"):
        return False
    found = unit.call(
        None,
        f"fetched the invoice Stripe charge {charge_id} paid",
        deps.stripe.get_charge_invoice_payment,
        charge_id,
        intent,
    )
    invoice, payment = found.get("invoice"), found.get("invoice_payment")
    if not isinstance(invoice, dict) or not isinstance(payment, dict):
        return False
    if payment.get("status") != "paid":
        return False
    if not names_bc_invoice(invoice.get("metadata")):
        # A Stripe invoice the connector did not raise: a person may have named the BC
        # invoice on the charge instead (the console's "Apply to invoice"), so read it.
        return False
    post_to_bc(
        unit,
        kind=PostingKind.PAYMENT,
        stripe_id=charge_id,
        amount_minor=int(payment["amount_paid"]),
        currency=str(payment.get("currency") or invoice["currency"]),
        metadata=invoice.get("metadata") or {},
        source=f"Stripe invoice {invoice.get('number') or invoice['id']}",
        payer=payer_of(obj, invoice),
    )
    return True


def names_bc_invoice(metadata: Mapping[str, Any] | None) -> bool:
    """Whether Stripe metadata names a BC invoice (company and invoice id)."""
    return bool(metadata and metadata.get("bc_company_id") and metadata.get("bc_invoice_id"))


def bc_references(
    invoice_metadata: Mapping[str, Any] | None, charge_metadata: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    """The metadata that names the BC invoice: the Stripe invoice's (the connector raised it),
    else the charge's (a person matched the payment in the console), else the invoice's."""
    if names_bc_invoice(invoice_metadata):
        return invoice_metadata or {}
    if names_bc_invoice(charge_metadata):
        return charge_metadata or {}
    return invoice_metadata or charge_metadata or {}


def post_invoice_payments(unit: Unit, invoice: dict[str, Any]) -> None:
    deps: HandlerDeps = unit.deps
    payments = [p for p in invoice.get("payments", []) if p.get("status") == "paid"]
    metadata = invoice.get("metadata") or {}
    if not payments:
        record_id = unit.record(
            RecordKind.PAYMENT,
            f"stripe:invoice-without-payment:{invoice['id']}",
            stripe_ref=str(invoice["id"]),
        )
        reason = f"Stripe invoice {invoice.get('number') or invoice['id']} has no card payment"
        unit.step(
            record_id,
            "decided",
            f"{reason} (paid out of band?): nothing to post",
            outcome=AuditOutcome.SKIPPED,
        )
        unit.update(record_id, state=RecordState.SKIPPED, last_error=reason)
        return
    for payment in payments:
        charge_id = payment.get("charge") or payment.get("payment_intent") or payment["id"]
        named = metadata
        charge: dict[str, Any] | None = None
        if not names_bc_invoice(metadata) and str(charge_id).startswith(("ch_", "py_")):
            # Not the connector's invoice: the charge may carry a person's match.
            charge = unit.call(
                None, f"fetched Stripe charge {charge_id}", deps.stripe.get_charge, str(charge_id)
            )
            named = bc_references(metadata, charge.get("metadata"))
        post_to_bc(
            unit,
            kind=PostingKind.PAYMENT,
            stripe_id=str(charge_id),
            amount_minor=int(payment["amount_paid"]),
            currency=str(payment.get("currency") or invoice["currency"]),
            metadata=named,
            source=f"Stripe invoice {invoice.get('number') or invoice['id']}",
            payer=payer_of(charge, invoice),
        )
