"""Changes made to a pushed invoice in Stripe itself: never written into BC, shown to a person.

BC is the ledger: an invoice voided or marked uncollectible in Stripe's Dashboard says nothing
about what the firm's books should do (cancel, credit, write off, or undo it in Stripe). So the
invoice's record says what changed and what is still true in BC, and needs a person. A void the
connector made itself (for a BC credit memo or cancellation, ``handlers.credit_memos``) is its
own doing and needs nobody. The same holds for a customer's name or e-mail edited in Stripe.
"""

from __future__ import annotations

from sqlalchemy import select

from mlconnector.money import format_amount
from reconciler.handlers.customers import customer_digest
from reconciler.handlers.customers import keep_names
from reconciler.models import AuditOutcome
from reconciler.models import CustomerLink
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
    unit.add_flags(record_id, needs_person="changed_in_stripe", todo=todo, stripe_status=status)


def on_stripe_customer_updated(unit: Unit) -> None:
    """A customer's name or e-mail changed in Stripe: BC keeps its own; a person decides.

    The connector's own updates (from BC) arrive here too; they match what it last sent
    (``CustomerLink.synced_digest``), so they cost no call. Anything else is compared with
    the BC customer once.
    """
    deps: HandlerDeps = unit.deps
    data = unit.envelope.data
    stripe_id = str(data["object_id"])
    link = unit.read(
        lambda s: s.scalar(select(CustomerLink).where(CustomerLink.stripe_customer_id == stripe_id))
    )
    if link is None:
        unit.step(
            None,
            "ignored",
            f"Stripe customer {stripe_id} is not linked to a BC customer; nothing to do",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    seen = data.get("object") or {}
    in_stripe = {"name": str(seen.get("name") or ""), "email": seen.get("email") or None}
    sent = customer_digest(
        {
            "bc_company_id": link.bc_company_id,
            "bc_customer_id": link.bc_customer_id,
            "bc_customer_number": link.bc_customer_number or "",
            **in_stripe,
        }
    )
    record_id = unit.record(
        RecordKind.CUSTOMER,
        f"bc:{link.bc_company_id}:customer:{link.bc_customer_id}",
        bc_company_id=link.bc_company_id,
        bc_ref=link.bc_customer_id,
    )
    if sent == link.synced_digest:
        unit.step(
            record_id,
            "decided",
            f"Stripe customer {stripe_id} is as the connector last sent it from BC",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    bc = unit.call(
        record_id, f"fetched BC customer {link.bc_customer_number}", deps.bc.get_customer,
        link.bc_customer_id,
    )  # fmt: skip
    in_bc = {"name": str(bc.get("name") or ""), "email": bc.get("email") or None}
    # BC was read anyway: the link keeps its name and e-mail for the console's search.
    link_id = link.id
    unit.later(lambda session: keep_names(session.get_one(CustomerLink, link_id), in_bc))
    changed = [k for k in ("name", "email") if (in_stripe[k] or "") != (in_bc[k] or "")]
    if not changed:
        unit.step(
            record_id,
            "decided",
            f"Stripe customer {stripe_id} agrees with BC customer {link.bc_customer_number}",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    facts = "; ".join(f"{k}: {in_stripe[k]!r} in Stripe, {in_bc[k]!r} in BC" for k in changed)
    todo = (
        f"The client's {' and '.join(changed)} changed in Stripe ({facts}). BC was not changed: "
        "update BC customer "
        f"{link.bc_customer_number} if the client asked for it (the connector then sends it to "
        "Stripe), or undo the change in Stripe."
    )
    unit.step(record_id, "decided", todo, outcome=AuditOutcome.SKIPPED)
    unit.add_flags(record_id, needs_person="changed_in_stripe", todo=todo)
