"""What the connector does to a Stripe invoice after the push, when its BC invoice changes.

- ``credit_invoice``: a credit note for a BC credit memo, line by line when the reconciler sends
  the memo's lines (``credit_note_lines`` has the rules: each line credits the Stripe invoice line
  it corresponds to, by quantity or by amount, or is a custom line; they sum to the memo's total
  to the minor unit), otherwise for an amount only. When the lines of the invoice or of its
  earlier credit notes cannot all be read in one call, the credit note is for the amount only and
  the answer says why (``amount_only_why``). Stripe first lowers what is still due (the
  pre-payment part); any rest is post-payment and must be split among a refund, a credit to the
  customer's balance and an amount credited outside Stripe (stripe 16.1.0
  ``CreditNoteService.create``: "the sum of refunds, customer balance credits, and outside of
  Stripe credits must equal the post_payment_amount"). The connector never refunds: the rest goes
  to the customer's balance or is recorded as credited outside Stripe, as the firm chose
  (``after_payment``); a refund is a person's decision in Stripe.
- ``pay_elsewhere``: money the client paid outside Stripe (a bank transfer applied in BC). All
  of what is due: ``Invoice.pay(paid_out_of_band=true)``, which settles the whole remainder
  (16.1.0 ``InvoicePayParams`` has no amount). Part of it: a Payment Record reported as
  guaranteed and attached to the invoice (``PaymentRecordService.report_payment``,
  ``InvoiceService.attach_payment``: "Attaches a PaymentIntent or an Out of Band Payment to the
  invoice"), which lowers what Stripe asks for by that amount.
- ``send``: Stripe e-mails a ``send_invoice`` invoice to the client
  (``InvoiceService.send_invoice``).

Each is idempotent on the caller's key: Stripe's idempotency keys derive from it, and a credit
note carries it in its metadata (``mlc_key``), so it is found again even after Stripe's 24-hour
key window. For money paid elsewhere the reconciler keeps the running total recorded, so it asks
for each part once.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any

import stripe

from mlconnector.web import ApiError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.adapters.stripe_client import metadata_of
from stripe_gateway.services.credit_note_lines import CreditLine
from stripe_gateway.services.credit_note_lines import LinesUnknown
from stripe_gateway.services.credit_note_lines import invoice_line_states
from stripe_gateway.services.credit_note_lines import plan_lines
from stripe_gateway.services.invoices import by_generation

logger = logging.getLogger(__name__)

AFTER_PAYMENT = {"customer_balance": "credit_amount", "out_of_band": "out_of_band_amount"}


def _refuse(message: str, *, status: str) -> ApiError:
    return ApiError(message, status_code=409, code="invalid_state", details={"status": status})


def _mine(client: StripeClient, invoice_id: str, key: str) -> stripe.CreditNote | None:
    return _find(client.list_credit_notes({"invoice": invoice_id}), key)


def _find(notes: Iterable[stripe.CreditNote], key: str) -> stripe.CreditNote | None:
    for note in notes:
        if metadata_of(note).get("mlc_key") == key:
            return note
    return None


@dataclasses.dataclass(frozen=True)
class Credited:
    """A credit note for a BC credit memo: made now (``created``) or found again.

    ``amount_only_why`` says why a credit note asked for line by line was made for an amount
    only (None when it has lines, or when it was found rather than made now).
    """

    note: stripe.CreditNote
    created: bool
    amount_only_why: str | None = None


def credit_invoice(
    client: StripeClient,
    invoice_id: str,
    *,
    key: str,
    amount_minor: int,
    memo: str,
    metadata: dict[str, str],
    after_payment: str,
    lines: Sequence[CreditLine] = (),
) -> Credited:
    """The credit note for ``key``: found (a redelivery makes nothing new), or made now."""
    notes = list(client.list_credit_notes({"invoice": invoice_id}))
    found = _find(notes, key)
    if found is not None:
        return Credited(found, created=False)
    if lines and sum(line.amount_minor for line in lines) != amount_minor:
        raise ApiError(
            f"the credit note lines add up to {sum(line.amount_minor for line in lines)}, "
            f"not to the amount {amount_minor}",
            status_code=422,
            code="validation_failed",
        )
    invoice = client.retrieve_invoice(invoice_id)
    status = str(invoice.status)
    if status not in ("open", "paid"):
        raise _refuse(
            f"invoice {invoice_id} is {status}: Stripe credits open or paid invoices only",
            status=status,
        )
    due = int(invoice.amount_remaining or 0) if status == "open" else 0
    params: dict[str, Any] = {
        "invoice": invoice_id,
        "memo": memo[:5000],
        "reason": "order_change",
        "metadata": {**metadata, "mlc_key": key},
    }
    why: str | None = None
    if lines:
        try:
            states = invoice_line_states(invoice.to_dict(), [n.to_dict() for n in notes])
            # One line per memo line, each crediting exactly its amount: their sum is
            # amount_minor. "One of amount, lines, or shipping_cost must be provided."
            params["lines"] = plan_lines(lines, states)
        except LinesUnknown as exc:
            why = str(exc)
            logger.warning("credit note %s on %s for an amount only: %s", key, invoice_id, why)
    if "lines" not in params:
        params["amount"] = amount_minor
    rest = max(0, amount_minor - due)
    if rest:
        params[AFTER_PAYMENT[after_payment]] = rest
    note = by_generation(
        f"mlc:{invoice_id}:credit:{key}",
        lambda idem: client.create_credit_note(params, idempotency_key=idem),
        lambda: _mine(client, invoice_id, key),
    )
    logger.info(
        "credit note %s on invoice %s for %s (%s)",
        note.id,
        invoice_id,
        key,
        f"{len(params['lines'])} line(s)" if "lines" in params else "amount only",
    )
    return Credited(note, created=True, amount_only_why=why)


def pay_elsewhere(
    client: StripeClient,
    invoice_id: str,
    *,
    key: str,
    amount_minor: int,
    reference: str,
) -> tuple[stripe.Invoice, str]:
    """Record ``amount_minor`` paid outside Stripe; the invoice and how (``out_of_band`` or
    ``payment_record``)."""
    invoice = client.retrieve_invoice(invoice_id)
    status = str(invoice.status)
    if status != "open":
        raise _refuse(f"invoice {invoice_id} is {status}, not open: nothing left to pay",
                      status=status)  # fmt: skip
    due = int(invoice.amount_remaining or 0)
    if amount_minor >= due:
        paid = by_generation(
            f"mlc:{invoice_id}:paid-elsewhere:{key}",
            lambda idem: client.pay_invoice_out_of_band(invoice_id, idempotency_key=idem),
            lambda: _settled(client, invoice_id, "paid"),
        )
        return paid, "out_of_band"
    record = client.report_payment(
        {
            "amount_requested": {"currency": str(invoice.currency), "value": amount_minor},
            "initiated_at": int(time.time()),
            "outcome": "guaranteed",
            "guaranteed": {"guaranteed_at": int(time.time())},
            "customer_details": {"customer": _id(invoice.customer)},
            "payment_method_details": {"type": "custom", "custom": {"display_name": "Paid in BC"}},
            "processor_details": {
                "type": "custom",
                "custom": {"payment_reference": reference[:100]},
            },
            "description": f"Paid outside Stripe, applied in Business Central ({reference})"[:500],
            "metadata": {"mlc_key": key},
        },
        idempotency_key=f"mlc:{invoice_id}:record:{key}",
    )
    attached = client.attach_payment_record(
        invoice_id, str(record.id), idempotency_key=f"mlc:{invoice_id}:attach:{key}"
    )
    return attached, "payment_record"


def _id(value: object) -> str:
    return str(getattr(value, "id", value) or "")


def _settled(client: StripeClient, invoice_id: str, target: str) -> stripe.Invoice | None:
    current = client.retrieve_invoice(invoice_id)
    return current if current.status == target else None


def send(client: StripeClient, invoice_id: str) -> stripe.Invoice:
    """E-mail the invoice to the client (once per invoice: the key is the invoice's)."""
    return by_generation(
        f"mlc:{invoice_id}:send",
        lambda idem: client.send_invoice(invoice_id, idempotency_key=idem),
        lambda: None,
    )
