"""Changes made to a pushed invoice in Stripe itself: never written into BC, shown to a person.

BC is the ledger: an invoice voided or marked uncollectible in Stripe's Dashboard says nothing
about what the firm's books should do (cancel, credit, write off, or undo it in Stripe). So the
invoice's record says what changed and what is still true in BC, and needs a person. A void the
connector made itself (for a BC credit memo or cancellation, ``handlers.credit_memos``) is its
own doing and needs nobody.
"""

from __future__ import annotations

from sqlalchemy import select

from mlconnector.money import format_amount
from reconciler.models import AuditOutcome
from reconciler.models import InvoiceLink
from reconciler.models import RecordKind
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.unit import Unit

WORDS = {"void": "voided", "uncollectible": "marked uncollectible"}


def on_stripe_invoice_changed(unit: Unit) -> None:
    deps: HandlerDeps = unit.deps
    stripe_id = str(unit.envelope.data["object_id"])
    link = unit.read(
        lambda s: s.scalar(select(InvoiceLink).where(InvoiceLink.stripe_invoice_id == stripe_id))
    )
    if link is None:
        unit.step(
            None,
            "ignored",
            f"Stripe invoice {stripe_id} was not pushed by the connector; nothing to do",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    record_id = unit.record(
        RecordKind.INVOICE,
        f"bc:{link.bc_company_id}:invoice:{link.bc_invoice_id}",
        bc_company_id=link.bc_company_id,
        bc_ref=link.bc_invoice_id,
    )
    invoice = unit.call(
        record_id, f"fetched Stripe invoice {stripe_id}", deps.stripe.get_invoice, stripe_id
    )
    status = str(invoice.get("status"))
    if status not in WORDS:
        unit.step(
            record_id,
            "decided",
            f"Stripe invoice {stripe_id} is {status} now; nothing changed that BC must know",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    ours = unit.read(
        lambda s: s.scalar(
            select(SyncRecord.bc_number).where(
                SyncRecord.kind == RecordKind.CREDIT_MEMO, SyncRecord.stripe_ref == stripe_id
            )
        )
    )
    if status == "void" and ours is not None:
        unit.step(
            record_id,
            "decided",
            f"Stripe invoice {stripe_id} was voided by the connector for BC credit memo {ours}",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    total = format_amount(link.total_minor, link.currency)
    todo = (
        f"Stripe invoice {stripe_id} was {WORDS[status]} in Stripe, not by the connector. BC "
        f"invoice {link.bc_invoice_number} ({total}) is unchanged: decide in BC (cancel it, post "
        "a credit memo, or write it off), or undo the change in Stripe."
    )
    unit.step(record_id, "decided", todo, outcome=AuditOutcome.SKIPPED)
    flags = dict(unit.read(lambda s: s.get_one(SyncRecord, record_id).flags) or {})
    flags.update(needs_person="changed_in_stripe", todo=todo, stripe_status=status)
    unit.update(record_id, flags=flags)
