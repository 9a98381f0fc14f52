"""Outbound: an Open BC sales invoice becomes a finalized Stripe invoice, exactly once.

The notification or poll message is only a hint: the invoice is re-read through bc-gateway. An
invoice that is already linked is left alone; one that is not Open (a draft, paid, canceled) is
skipped with the reason. The Stripe side is made idempotent by the stripe-gateway (keys derived
from the BC company and invoice id), so a redelivered or replayed message can never raise a
second Stripe invoice, and the link is stored only once (unique on both sides).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mlconnector.money import format_amount
from reconciler.adapters.http import GatewayNotFound
from reconciler.handlers.customers import ensure_stripe_customer
from reconciler.models import AuditOutcome
from reconciler.models import InvoiceLink
from reconciler.models import RecordKind
from reconciler.models import RecordState
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
        unit.step(
            record_id,
            "decided",
            f"already linked to Stripe invoice {link.stripe_invoice_id}; nothing to do",
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
        return
    try:
        invoice = unit.call(
            record_id, f"fetched BC invoice {invoice_id}", deps.bc.get_invoice, invoice_id
        )
    except GatewayNotFound:
        unit.step(
            record_id, "decided", "the BC invoice no longer exists", outcome=AuditOutcome.SKIPPED
        )
        unit.update(record_id, state=RecordState.SKIPPED, last_error="BC invoice not found")
        return
    number = str(invoice.get("number", ""))
    status = str(invoice.get("status", ""))
    if status != "Open":
        unit.step(
            record_id,
            "decided",
            f"BC invoice {number} is {status or 'without status'}; only Open invoices go to Stripe",
            outcome=AuditOutcome.SKIPPED,
        )
        unit.update(record_id, state=RecordState.SKIPPED, bc_number=number)
        return

    customer = ensure_stripe_customer(unit, record_id, company_id, invoice["customer"])
    command = invoice_command(
        invoice, company_id=company_id, stripe_customer_id=customer, today=deps.today()
    )
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
    with unit.tx() as session:
        if _link(unit, company_id, invoice_id) is None:
            session.add(
                InvoiceLink(
                    bc_company_id=company_id,
                    bc_invoice_id=invoice_id,
                    bc_invoice_number=number,
                    stripe_invoice_id=stripe_invoice_id,
                    currency=currency,
                    total_minor=total,
                )
            )
        unit.step(
            record_id,
            "result",
            f"BC invoice {number} is Stripe invoice {result.get('number') or stripe_invoice_id} "
            f"({result.get('status')}), {format_amount(total, currency)}",
            response={k: result.get(k) for k in ("id", "number", "status", "hosted_invoice_url")},
        )
    unit.update(
        record_id,
        state=RecordState.SUCCEEDED,
        bc_number=number,
        stripe_ref=stripe_invoice_id,
        amount_minor=total,
        currency=currency,
        last_error=None,
    )
