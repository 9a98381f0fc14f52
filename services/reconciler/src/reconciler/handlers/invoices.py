"""Outbound: an Open BC sales invoice becomes a finalized Stripe invoice, exactly once.

The notification or poll message is only a hint: the invoice is re-read through bc-gateway. An
invoice that is already linked is left alone; one that is not Open (a draft, paid, canceled) is
skipped with the reason. The Stripe side is made idempotent by the stripe-gateway (keys derived
from the BC company and invoice id), so a redelivered or replayed message can never raise a
second Stripe invoice, and the link is stored only once (unique on both sides).

A record with an earlier attempt behind it and no Stripe reference may stand for an invoice
Stripe made although the answer was lost (``push_recovery``): before such a record is skipped,
the invoice is looked for and linked, and the push itself says it is a retry (``attempt``), so
the gateway resumes what the earlier attempt left. A fresh record costs no extra call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mlconnector.money import format_amount
from reconciler.adapters.http import GatewayNotFound
from reconciler.handlers import paid_elsewhere
from reconciler.handlers.customers import ensure_stripe_customer
from reconciler.handlers.fast_path import link_facts
from reconciler.handlers.fast_path import note_bc_change
from reconciler.handlers.fast_path import shows_change
from reconciler.handlers.push_recovery import Earlier
from reconciler.handlers.push_recovery import insert_link
from reconciler.handlers.push_recovery import may_have_pushed
from reconciler.handlers.push_recovery import recover_pushed
from reconciler.models import AuditOutcome
from reconciler.models import InvoiceLink
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.translate import invoice_command
from reconciler.unit import Unit


def on_invoice_observed(unit: Unit) -> None:
    data = unit.envelope.data
    push_invoice(unit, str(data["company_id"]), str(data["entity_id"]))


def on_invoice_notification(unit: Unit) -> None:
    data = unit.envelope.data
    if not data.get("entity_id") or not data.get("company_id"):
        unit.step(
            None,
            "ignored",
            f"notification for {data.get('resource')} names no single invoice",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    push_invoice(unit, str(data["company_id"]), str(data["entity_id"]))


def _link(unit: Unit, company_id: str, invoice_id: str) -> InvoiceLink | None:
    return unit.read(
        lambda s: s.scalar(
            select(InvoiceLink).where(
                InvoiceLink.bc_company_id == company_id, InvoiceLink.bc_invoice_id == invoice_id
            )
        )
    )


def _earlier(unit: Unit, record_id: int) -> Earlier | None:
    """The record's past when this message did not create it (no read for a fresh record)."""
    if record_id in unit.created:
        return None
    return unit.read(lambda s: Earlier.of(s.get_one(SyncRecord, record_id)))


def push_invoice(unit: Unit, company_id: str, invoice_id: str) -> None:
    deps: HandlerDeps = unit.deps
    record_id = unit.record(
        RecordKind.INVOICE,
        f"bc:{company_id}:invoice:{invoice_id}",
        bc_company_id=company_id,
        bc_ref=invoice_id,
    )
    link = _link(unit, company_id, invoice_id)
    if link is not None:
        changed = shows_change(link, unit.envelope.data.get("last_modified"))
        if changed:
            link_id = link.id
            unit.later(lambda session: note_bc_change(session, link_id))
        unit.step(
            record_id,
            "decided",
            f"already linked to Stripe invoice {link.stripe_invoice_id}; nothing to do"
            + (
                " (BC changed the invoice since it was pushed: its payments are checked "
                "against BC from now on)"
                if changed
                else ""
            ),
            outcome=AuditOutcome.SKIPPED,
        )
        unit.settle(
            record_id,
            state=RecordState.SUCCEEDED,
            stripe_ref=link.stripe_invoice_id,
            bc_number=link.bc_invoice_number,
            amount_minor=link.total_minor,
            currency=link.currency,
            last_error=None,
        )
        amounts = unit.envelope.data.get("amounts")
        if isinstance(amounts, dict):
            # The poll read BC's open amount: was part of it paid another way?
            paid_elsewhere.check(unit, record_id, link, amounts)
        return
    earlier = _earlier(unit, record_id)
    retry = earlier if earlier is not None and may_have_pushed(earlier) else None
    try:
        invoice = unit.call(
            record_id, f"fetched BC invoice {invoice_id}", deps.bc.get_invoice, invoice_id
        )
    except GatewayNotFound:
        if retry and _recovered(unit, record_id, retry, company_id, invoice_id, None):
            return
        unit.step(
            record_id, "decided", "the BC invoice no longer exists", outcome=AuditOutcome.SKIPPED
        )
        unit.update(record_id, state=RecordState.SKIPPED, last_error="BC invoice not found")
        return
    number = str(invoice.get("number", ""))
    status = str(invoice.get("status", ""))
    if status != "Open":
        if retry and _recovered(unit, record_id, retry, company_id, invoice_id, invoice):
            return
        unit.step(
            record_id,
            "decided",
            f"BC invoice {number} is {status or 'without status'}; only Open invoices go to Stripe",
            outcome=AuditOutcome.SKIPPED,
        )
        # Whatever an earlier attempt failed with, this is the verdict now (the story keeps it).
        unit.update(record_id, state=RecordState.SKIPPED, bc_number=number, last_error=None)
        return

    customer = ensure_stripe_customer(
        unit, record_id, company_id, invoice["customer"], verify=earlier is not None
    )
    command = invoice_command(
        invoice, company_id=company_id, stripe_customer_id=customer, today=deps.today()
    )
    if retry:
        # The gateway then first looks for what an earlier attempt made and resumes it.
        command["attempt"] = max(2, retry.attempts + 1)
    currency, total = command["currency"], command["expected_total_minor"]
    unit.step(
        record_id,
        "decided",
        f"push BC invoice {number} to Stripe: {len(command['lines'])} line(s), "
        f"total {format_amount(total, currency)}",
        request={"lines": len(command["lines"]), "total_minor": total, "currency": currency},
    )
    result: dict[str, Any] = unit.call(
        record_id,
        f"created and finalized the Stripe invoice for BC invoice {number}",
        deps.stripe.create_invoice,
        command,
        request={"bc_invoice_number": number, "expected_total_minor": total},
    )
    stripe_invoice_id = str(result["id"])
    if retry and result.get("resumed"):
        finalized = ", finalized it now" if result.get("finalized_now") else ""
        unit.step(
            record_id,
            "recovered",
            f"recovered Stripe invoice {stripe_invoice_id} created by an earlier attempt whose "
            f"answer was lost; it is {result.get('status')}{finalized}",
        )
    with unit.tx() as session:
        # A retry and a BC notification may finish the same push at once: one link either way.
        insert_link(
            session,
            company_id=company_id,
            invoice_id=invoice_id,
            bc_number=number,
            stripe_invoice_id=stripe_invoice_id,
            currency=currency,
            total_minor=total,
            facts=link_facts(invoice, currency),
        )
        unit.step(
            record_id,
            "result",
            f"BC invoice {number} is Stripe invoice {result.get('number') or stripe_invoice_id} "
            f"({result.get('status')}), {format_amount(total, currency)}",
            response={k: result.get(k) for k in ("id", "number", "status", "hosted_invoice_url")},
        )
    link_url = result.get("hosted_invoice_url")
    if deps.rules.invoice_delivery == "stripe_email":
        unit.call(
            record_id,
            f"Stripe e-mailed invoice {stripe_invoice_id} to the client",
            deps.stripe.send_invoice,
            stripe_invoice_id,
        )
    unit.update(
        record_id,
        state=RecordState.SUCCEEDED,
        bc_number=number,
        stripe_ref=stripe_invoice_id,
        amount_minor=total,
        currency=currency,
        # Where the clerk finds the link to send with the firm's own document (the record; BC's
        # standard API cannot write anything onto a posted invoice: bc-api.md §4.6, PATCH).
        flags={"payment_link": link_url, "delivery": deps.rules.invoice_delivery}
        if link_url
        else {},
        last_error=None,
    )


def _recovered(
    unit: Unit,
    record_id: int,
    earlier: Earlier,
    company_id: str,
    invoice_id: str,
    invoice: dict[str, Any] | None,
) -> bool:
    """Look for the invoice an earlier attempt may have made (``invoice``: the BC invoice,
    None when BC no longer has it); True when it was found and linked."""
    if invoice is None:
        number, state, customer_id = "", "no longer exists in BC", None
    else:
        customer = invoice.get("customer") or {}
        number = str(invoice.get("number", ""))
        state = f"is {invoice.get('status') or 'without status'}"
        customer_id = str(invoice.get("customer_id") or customer.get("id") or "") or None
    return recover_pushed(
        unit,
        record_id,
        earlier,
        company_id=company_id,
        invoice_id=invoice_id,
        bc_number=number,
        bc_state=state,
        bc_customer_id=customer_id,
    )
