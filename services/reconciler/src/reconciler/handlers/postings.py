"""Writing one Stripe payment or refund to BC, exactly once (claim, act, confirm).

The posting row is claimed and locked in the same transaction that creates the BC line and
confirms it, so two workers can never both create a line for one Stripe id; a crash after BC
created the line but before the commit is safe because bc-gateway looks the external document
number up before it creates anything. Missing or unknown metadata never leads to a guess: the
record is marked ``unmatched`` with the reason, for a person to resolve.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mlconnector.money import MoneyError
from mlconnector.money import format_amount
from mlconnector.money import from_minor
from mlconnector.money import normalize_currency
from reconciler.adapters.http import GatewayNotFound
from reconciler.adapters.http import GatewayRejected
from reconciler.models import AuditOutcome
from reconciler.models import PostingKind
from reconciler.models import PostingState
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.rules import HandlerDeps
from reconciler.store import claim_posting
from reconciler.store import mark_posting_posted
from reconciler.unit import Unit


def unmatched(unit: Unit, record_id: int, reason: str) -> None:
    unit.step(record_id, "decided", f"unmatched: {reason}", outcome=AuditOutcome.SKIPPED)
    unit.update(record_id, state=RecordState.UNMATCHED, last_error=reason)


def post_to_bc(
    unit: Unit,
    *,
    kind: PostingKind,
    stripe_id: str,
    amount_minor: int,
    currency: str,
    metadata: Mapping[str, Any],
    source: str,
) -> None:
    """Post one Stripe payment (negative line) or refund (positive line) against its BC invoice."""
    deps: HandlerDeps = unit.deps
    record_kind = RecordKind.PAYMENT if kind is PostingKind.PAYMENT else RecordKind.REFUND
    record_id = unit.record(
        record_kind,
        f"stripe:{kind.value}:{stripe_id}",
        stripe_ref=stripe_id,
        amount_minor=amount_minor,
        currency=currency.lower(),
    )
    company_id = str(metadata.get("bc_company_id") or "")
    bc_invoice_id = str(metadata.get("bc_invoice_id") or "")
    if not company_id or not bc_invoice_id:
        unmatched(unit, record_id, f"{source} carries no BC invoice in its metadata")
        return
    try:
        currency = normalize_currency(currency)
        amount = from_minor(amount_minor, currency)
    except MoneyError as exc:
        unmatched(unit, record_id, str(exc))
        return
    try:
        invoice = unit.call(
            record_id, f"fetched BC invoice {bc_invoice_id}", deps.bc.get_invoice, bc_invoice_id
        )
    except GatewayNotFound:
        unmatched(unit, record_id, f"BC invoice {bc_invoice_id} named in {source} does not exist")
        return
    number = str(invoice.get("number", ""))
    bc_currency = str(invoice.get("currency_code", "")).lower()
    if bc_currency != currency:
        unmatched(
            unit,
            record_id,
            f"{source} is in {currency.upper()} "
            f"but BC invoice {number} is in {bc_currency.upper()}",
        )
        return
    unit.update(record_id, bc_company_id=company_id, bc_ref=bc_invoice_id, bc_number=number)

    is_payment = kind is PostingKind.PAYMENT
    bc_amount = -amount if is_payment else amount
    journal = deps.rules.payment_journal if is_payment else deps.rules.refund_journal
    flags: dict[str, Any] = {}
    remaining = Decimal(str(invoice.get("remaining_amount", "0")))
    with unit.tx() as session:
        posting = claim_posting(
            session,
            stripe_id,
            kind=kind,
            record_id=record_id,
            bc_company_id=company_id,
            bc_invoice_id=bc_invoice_id,
            amount=bc_amount,
            amount_minor=amount_minor,
            currency=currency,
        )
        if posting.state is PostingState.POSTED:
            unit.step(
                record_id,
                "decided",
                f"already written to BC as line {posting.bc_line_id}; not posting again",
                outcome=AuditOutcome.SKIPPED,
            )
        else:
            if is_payment and amount > remaining:
                flags["overpaid"] = True
                flags["overpaid_by"] = str(amount - remaining)
            unit.step(
                record_id,
                "decided",
                f"{'payment' if is_payment else 'refund'} of "
                f"{format_amount(amount_minor, currency)} goes to BC invoice {number} "
                f"in batch {journal}"
                + (f" (overpays it by {flags['overpaid_by']})" if flags else ""),
            )
            command = {
                "kind": kind.value,
                "journal": journal,
                "bc_invoice_id": bc_invoice_id,
                "amount": str(bc_amount),
                "currency": currency,
                "external_document_number": stripe_id,
                "posting_date": deps.today().isoformat(),
                "description": f"Stripe {stripe_id}"[:100],
            }
            line = unit.call(
                record_id,
                f"created the BC {'payment' if is_payment else 'refund'} line for {stripe_id}",
                deps.bc.create_payment,
                command,
                request=command,
            )
            # A line BC already posted (found by its external document number in the G/L)
            # has no journal line id any more: the Stripe id stands for it.
            line_id = line.get("line_id") or f"posted:{stripe_id}"
            mark_posting_posted(
                session,
                posting,
                bc_journal_id=str(line.get("journal_id") or journal),
                bc_line_id=str(line_id),
            )
    auto_post = deps.rules.auto_post_payments if is_payment else deps.rules.auto_post_refunds
    if auto_post:
        try:
            unit.call(record_id, f"posted batch {journal}", deps.bc.post_journal, journal)
        except GatewayRejected as exc:
            # Another worker posted the batch first: our line went with it.
            if "nothing to post" not in exc.message.lower():
                raise
            unit.step(
                record_id,
                "result",
                f"batch {journal} was already posted",
                outcome=AuditOutcome.SKIPPED,
            )
    unit.step(
        record_id,
        "result",
        f"{format_amount(amount_minor, currency)} from {stripe_id} is in BC "
        f"against invoice {number}"
        + (" and posted" if auto_post else ", waiting in the batch for review"),
    )
    unit.update(record_id, state=RecordState.SUCCEEDED, flags=flags, last_error=None)
