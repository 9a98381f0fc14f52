"""What the connector does to a Stripe invoice after the push, when its BC invoice changes.

- ``credit_invoice``: a credit note for a BC credit memo. Stripe first lowers what is still due
  (the pre-payment part); any rest is post-payment and must be split among a refund, a credit to
  the customer's balance and an amount credited outside Stripe (stripe 16.1.0
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

import logging
import time
from typing import Any

import stripe

from mlconnector.web import ApiError
from stripe_gateway.adapters.stripe_client import StripeClient
from stripe_gateway.adapters.stripe_client import metadata_of
from stripe_gateway.services.invoices import by_generation

logger = logging.getLogger(__name__)

AFTER_PAYMENT = {"customer_balance": "credit_amount", "out_of_band": "out_of_band_amount"}


def _refuse(message: str, *, status: str) -> ApiError:
    return ApiError(message, status_code=409, code="invalid_state", details={"status": status})


def _mine(client: StripeClient, invoice_id: str, key: str) -> stripe.CreditNote | None:
    for note in client.list_credit_notes({"invoice": invoice_id}):
        if metadata_of(note).get("mlc_key") == key:
            return note
    return None


def credit_invoice(
    client: StripeClient,
    invoice_id: str,
    *,
    key: str,
    amount_minor: int,
    memo: str,
    metadata: dict[str, str],
    after_payment: str,
) -> tuple[stripe.CreditNote, bool]:
    """The credit note for ``key`` (made now, or found); True when it was made now."""
    found = _mine(client, invoice_id, key)
    if found is not None:
        return found, False
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
        "amount": amount_minor,
        "memo": memo[:5000],
        "reason": "order_change",
        "metadata": {**metadata, "mlc_key": key},
    }
    rest = max(0, amount_minor - due)
    if rest:
        params[AFTER_PAYMENT[after_payment]] = rest
    note = by_generation(
        f"mlc:{invoice_id}:credit:{key}",
        lambda idem: client.create_credit_note(params, idempotency_key=idem),
        lambda: _mine(client, invoice_id, key),
    )
    logger.info("credit note %s on invoice %s for %s", note.id, invoice_id, key)
    return note, True


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
