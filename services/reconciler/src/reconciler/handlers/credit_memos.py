"""A posted BC credit memo on a pushed invoice reaches its Stripe invoice (issue 14).

``salesCreditMemos`` notifications (and BC's cancellation of an invoice, which posts a
corrective credit memo) lead here. The credit memo is read through bc-gateway; a draft, or one
that names no invoice the connector pushed, changes nothing. Otherwise, for the Stripe invoice:

- **Unpaid and credited in full, or the BC invoice cancelled**: the Stripe invoice is voided, so
  the client has nothing left to pay.
- **Cancelled in BC but the client paid in Stripe meanwhile**: nothing is done in Stripe; the
  record needs a person, with both facts side by side.
- **Otherwise**: a credit note for the credited amount, line by line where it can be
  (``reconciler.credit_note_lines``): each memo line that corresponds to a line of the invoice
  credits that Stripe invoice line (by quantity or by amount), any other line is a custom line
  with its BC description, the tax credits the invoice's tax line, and the lines add up to the
  memo's total to the minor unit. When that cannot be exact (an invoice discount, a negative
  line...), the credit note is for the amount only and the record says why. Stripe lowers what
  is still due first;
  what the client already paid is credited to the customer's Stripe balance
  (``MLC_CREDIT_AFTER_PAYMENT=customer_balance``, the default: no money moves) or recorded as
  credited outside Stripe (``out_of_band``, when the firm pays it back itself). With
  ``refund_after_approval`` the part already paid is left for a person to refund in Stripe: the
  connector never moves money back on its own.

Every Stripe change is idempotent on the credit memo's id, and the record keeps what was done.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from mlconnector.money import MoneyError
from mlconnector.money import format_amount
from mlconnector.money import to_minor
from reconciler.adapters.http import GatewayNotFound
from reconciler.credit_note_lines import AmountOnly
from reconciler.credit_note_lines import credit_note_lines
from reconciler.models import AuditOutcome
from reconciler.models import InvoiceLink
from reconciler.models import RecordKind
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.rules import HandlerDeps
from reconciler.unit import Unit


def on_credit_memo_notification(unit: Unit) -> None:
    data = unit.envelope.data
    if not data.get("entity_id") or not data.get("company_id"):
        unit.step(
            None,
            "ignored",
            f"notification for {data.get('resource')} names no single credit memo",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    follow_credit_memo(unit, str(data["company_id"]), str(data["entity_id"]))


def _skip(unit: Unit, record_id: int, why: str, **fields: Any) -> None:
    unit.step(record_id, "decided", why, outcome=AuditOutcome.SKIPPED)
    unit.update(record_id, state=RecordState.SKIPPED, last_error=None, **fields)


def follow_credit_memo(unit: Unit, company_id: str, memo_id: str) -> None:
    deps: HandlerDeps = unit.deps
    record_id = unit.record(
        RecordKind.CREDIT_MEMO,
        f"bc:{company_id}:creditmemo:{memo_id}",
        bc_company_id=company_id,
        bc_ref=memo_id,
    )
    done = unit.read(lambda s: s.get_one(SyncRecord, record_id).state)
    if done is RecordState.SUCCEEDED:
        unit.step(
            record_id,
            "decided",
            "already reached Stripe; nothing to do",
            outcome=AuditOutcome.SKIPPED,
        )
        return
    try:
        memo = unit.call(
            record_id, f"fetched BC credit memo {memo_id}", deps.bc.get_credit_memo, memo_id
        )
    except GatewayNotFound:
        _skip(unit, record_id, "the BC credit memo no longer exists (a deleted draft)")
        return
    number = str(memo.get("number") or memo_id)
    if not memo.get("posted"):
        _skip(unit, record_id, f"BC credit memo {number} is {memo.get('status')}: not posted yet",
              bc_number=number)  # fmt: skip
        return
    invoice_id = memo.get("invoice_id")
    link = (
        unit.read(
            lambda s: s.scalar(
                select(InvoiceLink).where(
                    InvoiceLink.bc_company_id == company_id,
                    InvoiceLink.bc_invoice_id == str(invoice_id),
                )
            )
        )
        if invoice_id
        else None
    )
    if link is None:
        _skip(
            unit,
            record_id,
            f"BC credit memo {number} applies to "
            + (f"invoice {memo.get('invoice_number')}, which the connector did not push"
               if invoice_id else "no invoice")
            + ": nothing to change in Stripe",
            bc_number=number,
        )  # fmt: skip
        return
    currency = link.currency
    try:
        if str(memo.get("currency_code") or "").lower() != currency:
            raise MoneyError(
                f"credit memo {number} is in {memo.get('currency_code')}, its invoice in "
                f"{currency.upper()}"
            )
        credited = to_minor(Decimal(str(memo["total_amount_including_tax"])), currency)
    except MoneyError as exc:
        unit.step(record_id, "decided", f"unmatched: {exc}", outcome=AuditOutcome.SKIPPED)
        unit.update(record_id, state=RecordState.UNMATCHED, last_error=str(exc), bc_number=number)
        return
    unit.update(
        record_id,
        bc_number=number,
        stripe_ref=link.stripe_invoice_id,
        amount_minor=credited,
        currency=currency,
    )
    _mirror(unit, record_id, memo, link, credited)


def _mirror(
    unit: Unit, record_id: int, memo: dict[str, Any], link: InvoiceLink, credited: int
) -> None:
    deps: HandlerDeps = unit.deps
    currency, stripe_id = link.currency, link.stripe_invoice_id
    number, invoice_number = str(memo.get("number")), link.bc_invoice_number
    shown = format_amount(credited, currency)
    invoice = unit.call(
        record_id, f"fetched Stripe invoice {stripe_id}", deps.stripe.get_invoice, stripe_id
    )
    bc_invoice = unit.call(
        record_id,
        f"fetched BC invoice {invoice_number}",
        deps.bc.get_invoice,
        link.bc_invoice_id,
    )
    canceled = str(bc_invoice.get("status")) == "Canceled"
    status = str(invoice.get("status"))
    paid = int(invoice.get("amount_paid") or 0)
    due = int(invoice.get("amount_remaining") or 0) if status == "open" else 0
    what = (
        f"BC {'cancelled' if canceled else 'credited'} invoice {invoice_number} ({number}, {shown})"
    )
    if status == "void":
        _done(unit, record_id, f"{what}; Stripe invoice {stripe_id} is already void", {})
        return
    if status == "open" and paid == 0 and (canceled or credited >= due):
        unit.call(
            record_id,
            f"voided Stripe invoice {stripe_id}",
            deps.stripe.void_invoice,
            stripe_id,
        )
        _done(unit, record_id, f"{what}: Stripe invoice {stripe_id} voided, nothing left to pay",
              {"stripe_action": "voided"})  # fmt: skip
        return
    if canceled:
        todo = (
            f"BC invoice {invoice_number} was cancelled ({number}), but the client has paid "
            f"{format_amount(paid, currency)} of it in Stripe (invoice {stripe_id}, {status}). "
            "Decide: refund the client in Stripe, or re-invoice in BC."
        )
        _person(unit, record_id, "cancelled_but_paid", todo)
        return
    mode = deps.rules.credit_after_payment
    if mode == "refund_after_approval" and credited > due:
        if due:  # a part of the memo: for an amount only, since lines would credit it all
            _credit(unit, record_id, memo, link, due, "customer_balance")
        todo = (
            f"BC credit memo {number} credits {shown} on invoice {invoice_number}; the client "
            f"had already paid, so {format_amount(credited - due, currency)} is theirs to get "
            "back. Approve it by creating a credit note with a refund in Stripe (the connector "
            "never refunds on its own)."
        )
        _person(unit, record_id, "credit_after_payment", todo)
        return
    note = _credit(unit, record_id, memo, link, credited, mode, bc_invoice)
    rest = credited - min(credited, due)
    _done(
        unit,
        record_id,
        f"{what}: Stripe credit note {note.get('number') or note.get('id')} on {stripe_id}"
        + _itemization(note)
        + (
            f"; {format_amount(rest, currency)} already paid goes to the client's "
            + ("Stripe balance" if mode == "customer_balance" else "credit outside Stripe")
            if rest
            else ""
        ),
        {"stripe_action": "credit_note", "credit_note": note.get("id")},
    )


def _itemization(note: dict[str, Any]) -> str:
    """How the credit note's lines credit the invoice, for the record's summary."""
    lines = note.get("lines") or []
    if not lines:
        return " (for the amount only)"
    on_invoice = sum(1 for line in lines if line.get("type") == "invoice_line_item")
    return f" ({len(lines)} line(s), {on_invoice} crediting invoice lines)"


def _credit(
    unit: Unit,
    record_id: int,
    memo: dict[str, Any],
    link: InvoiceLink,
    amount: int,
    mode: str,
    bc_invoice: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ask stripe-gateway for the credit note; with ``bc_invoice`` (the whole memo is credited),
    line by line when the memo's lines add up to ``amount`` exactly.

    The key is the credit memo's id whether or not lines are sent, so a redelivered message
    finds the credit note made the first time (stripe-gateway looks it up by ``mlc_key``).
    """
    deps: HandlerDeps = unit.deps
    command: dict[str, Any] = {
        "key": f"bc-creditmemo-{memo['id']}",
        "amount_minor": amount,
        "memo": f"BC credit memo {memo.get('number')} on invoice {link.bc_invoice_number}",
        "bc_credit_memo_id": str(memo["id"]),
        "bc_credit_memo_number": str(memo.get("number") or ""),
        "bc_invoice_id": link.bc_invoice_id,
        "after_payment": mode,
    }
    if bc_invoice is not None:
        plan = credit_note_lines(memo, bc_invoice, link.currency)
        if isinstance(plan, AmountOnly):
            unit.step(
                record_id,
                "decided",
                f"credit note for the amount only, not line by line: {plan.why}",
            )
        elif sum(line["amount_minor"] for line in plan.lines) == amount:
            command["lines"] = list(plan.lines)
    result: dict[str, Any] = unit.call(
        record_id,
        f"credited {format_amount(amount, link.currency)} on Stripe invoice "
        f"{link.stripe_invoice_id}",
        deps.stripe.credit_invoice,
        link.stripe_invoice_id,
        command,
        request=command,
    )
    note: dict[str, Any] = result.get("credit_note") or {}
    if note.get("amount_only_why"):
        unit.step(
            record_id,
            "decided",
            f"Stripe credit note for the amount only: {note['amount_only_why']}",
        )
    return note


def _done(unit: Unit, record_id: int, summary: str, flags: dict[str, Any]) -> None:
    unit.step(record_id, "result", summary)
    unit.update(record_id, state=RecordState.SUCCEEDED, flags=flags, last_error=None)


def _person(unit: Unit, record_id: int, why: str, todo: str) -> None:
    unit.step(record_id, "decided", todo, outcome=AuditOutcome.SKIPPED)
    unit.update(
        record_id,
        state=RecordState.SUCCEEDED,
        flags={"needs_person": why, "todo": todo},
        last_error=None,
    )
