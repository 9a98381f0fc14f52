"""The invoice record, its totals and its status machine (stripe-api.md §5).

draft -> open (finalize) -> paid | uncollectible | void; uncollectible -> paid | void.
Totals: `subtotal` is the sum of line amounts; exclusive taxes add to `total`, inclusive ones
are already inside the lines; `total_taxes` aggregates line taxes per tax rate. At
finalization the customer's balance is applied (`starting_balance`/`ending_balance`, an
`applied_to_invoice` customer balance transaction), the invoice gets `number` (customer prefix
+ sequence), `hosted_invoice_url` and `invoice_pdf`; an amount due of zero is paid at once, and
an amount due below the currency's minimum charge is paid at once and moved to the customer's
balance (`invoice_too_small`; Invoice docstring, stripe-api.md §5). `amount_paid_off_stripe`
is kept privately: it is an includable field (render.py).
"""

from __future__ import annotations

from typing import Any

from .currency import MINIMUM_CHARGE
from .customer_balance import record_balance_change
from .errors import StripeError
from .errors import invalid_transition
from .events import emit
from .ids import new_id
from .invoice_payments import cancel_default_payment
from .invoice_payments import mark_paid
from .invoice_payments import open_default_payment
from .state import EmulatorState
from .store import Record


def new_invoice(
    state: EmulatorState, customer: Record, currency: str, fields: dict[str, Any]
) -> Record:
    now = state.clock.now()
    invoice: Record = {
        "id": new_id("invoice"), "object": "invoice", "account_country": "US",
        "account_name": "Stripe Emulator", "account_tax_ids": None, "amount_due": 0,
        "amount_overpaid": 0, "amount_paid": 0,
        "amount_remaining": 0, "amount_shipping": 0, "application": None, "attempt_count": 0,
        "attempted": False, "auto_advance": False,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None,
                          "provider": None, "status": None},
        "automatically_finalizes_at": None, "billing_reason": "manual",
        "collection_method": "charge_automatically", "confirmation_secret": None,
        "created": now, "currency": currency, "custom_fields": None,
        "customer": customer["id"], "customer_account": None, "customer_tax_ids": [],
        "default_payment_method": None, "default_source": None, "default_tax_rates": [],
        "description": None, "discounts": [], "due_date": None, "effective_at": None,
        "ending_balance": None, "footer": None, "from_invoice": None,
        "hosted_invoice_url": None, "invoice_pdf": None, "issuer": {"type": "self"},
        "last_finalization_error": None, "latest_revision": None, "livemode": False,
        "metadata": {}, "next_payment_attempt": None, "number": None, "on_behalf_of": None,
        "parent": None,
        "payment_settings": {"default_mandate": None, "payment_method_options": None,
                             "payment_method_types": None},
        "period_end": now, "period_start": now, "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0, "receipt_number": None, "rendering": None,
        "shipping_cost": None, "shipping_details": None, "starting_balance": 0,
        "statement_descriptor": None, "status": "draft", "status_details": None,
        "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None,
                               "paid_at": None, "voided_at": None},
        "subtotal": 0, "subtotal_excluding_tax": 0, "test_clock": None,
        "threshold_reason": None, "total": 0, "total_discount_amounts": [],
        "total_excluding_tax": 0, "total_pretax_credit_amounts": [], "total_taxes": [],
        "webhooks_delivered_at": None, "_line_ids": [], "_days_until_due": None,
        "_amount_paid_off_stripe": 0,
    }  # fmt: skip
    invoice.update(fields)
    copy_customer_fields(invoice, customer)
    return invoice


def copy_customer_fields(invoice: Record, customer: Record) -> None:
    invoice.update(
        customer_address=customer["address"],
        customer_email=customer["email"],
        customer_name=customer["name"],
        customer_phone=customer["phone"],
        customer_shipping=customer["shipping"],
        customer_tax_exempt=customer["tax_exempt"],
    )


def recompute(state: EmulatorState, invoice: Record) -> None:
    """Totals from the lines; for drafts also `amount_due` and `amount_remaining`."""
    lines = [state.store.get("line_item", i) for i in invoice["_line_ids"]]
    present = [line for line in lines if line is not None]
    subtotal = sum(int(line["amount"]) for line in present)
    inclusive = exclusive = 0
    per_rate: dict[tuple[str, str], Record] = {}
    for line in present:
        for tax in line["taxes"]:
            if tax["tax_behavior"] == "inclusive":
                inclusive += tax["amount"]
            else:
                exclusive += tax["amount"]
            key = (tax["tax_rate_details"]["tax_rate"], tax["taxability_reason"])
            summed = per_rate.setdefault(key, {**tax, "amount": 0, "taxable_amount": 0})
            summed["amount"] += tax["amount"]
            summed["taxable_amount"] += tax["taxable_amount"]
    total = subtotal + exclusive
    invoice.update(
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal - inclusive,
        total=total,
        total_excluding_tax=total - inclusive - exclusive,
        total_taxes=list(per_rate.values()),
    )
    if invoice["status"] == "draft":
        invoice["amount_due"] = max(total, 0)
        invoice["amount_remaining"] = invoice["amount_due"]
    state.store.touch("invoice", invoice)


def require_draft(invoice: Record) -> None:
    if invoice["status"] != "draft":
        raise StripeError(
            400,
            f"You can only modify draft invoices. This invoice ({invoice['id']}) is "
            f"{invoice['status']}.",
            code="invoice_not_editable",
        )


def finalize(state: EmulatorState, invoice: Record) -> None:
    if invoice["status"] != "draft":
        raise invalid_transition(
            f"This invoice is already finalized, you can't re-finalize a non-draft invoice."
            f" (status: {invoice['status']})"
        )
    customer = state.store.require("customer", invoice["customer"], "customer")
    recompute(state, invoice)
    now = state.clock.now()
    _apply_customer_balance(state, invoice, customer)
    number = (
        invoice["number"] or f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
    )
    if invoice["number"] is None:
        customer["next_invoice_sequence"] += 1
    if customer["currency"] is None:
        customer["currency"] = invoice["currency"]
    copy_customer_fields(invoice, customer)
    base = state.base_url
    invoice.update(
        status="open",
        number=number,
        effective_at=now,
        hosted_invoice_url=f"{base}/_emulator/i/{invoice['id']}",
        invoice_pdf=f"{base}/_emulator/i/{invoice['id']}/pdf",
    )
    invoice["status_transitions"]["finalized_at"] = now
    if invoice["collection_method"] == "send_invoice" and invoice["_days_until_due"] is not None:
        invoice["due_date"] = now + int(invoice["_days_until_due"]) * 86400
    invoice["amount_remaining"] = invoice["amount_due"] - invoice["amount_paid"]
    state.store.touch("invoice", invoice)
    emit(state, "invoice.finalized", invoice)
    minimum = MINIMUM_CHARGE.get(invoice["currency"], 1)
    if invoice["amount_due"] == 0:
        mark_paid(state, invoice)
    elif invoice["amount_due"] < minimum:
        # Below the minimum charge: Stripe marks it paid and carries the amount on the
        # customer's balance, to be collected with the next invoice.
        record_balance_change(
            state,
            customer,
            int(invoice["amount_due"]),
            "invoice_too_small",
            currency=invoice["currency"],
            invoice=invoice["id"],
        )
        invoice["ending_balance"] = customer["balance"]
        invoice["amount_due"] = 0
        mark_paid(state, invoice)
    else:
        open_default_payment(state, invoice)


def _apply_customer_balance(state: EmulatorState, invoice: Record, customer: Record) -> None:
    """Consume a credit (or add a debit) balance, with its `applied_to_invoice` entry."""
    balance = int(customer["balance"])
    total = int(invoice["total"])
    invoice["starting_balance"] = balance
    if balance < 0:
        applied = min(-balance, max(total, 0))
        invoice["amount_due"] = total - applied
        change = applied
    else:
        invoice["amount_due"] = max(total + balance, 0)
        change = -balance
    if change:
        record_balance_change(
            state,
            customer,
            change,
            "applied_to_invoice",
            currency=invoice["currency"],
            invoice=invoice["id"],
        )
    invoice["ending_balance"] = customer["balance"]


def void(state: EmulatorState, invoice: Record) -> None:
    if invoice["status"] not in ("open", "uncollectible"):
        hint = " Delete draft invoices instead." if invoice["status"] == "draft" else ""
        raise invalid_transition(
            f"You can only void open or uncollectible invoices; this invoice is "
            f"{invoice['status']}.{hint}"
        )
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = state.clock.now()
    cancel_default_payment(state, invoice)
    state.store.touch("invoice", invoice)
    emit(state, "invoice.voided", invoice)


def mark_uncollectible(state: EmulatorState, invoice: Record) -> None:
    if invoice["status"] != "open":
        raise invalid_transition(
            "You can only mark open invoices as uncollectible; this invoice is "
            f"{invoice['status']}."
        )
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = state.clock.now()
    state.store.touch("invoice", invoice)
    emit(state, "invoice.marked_uncollectible", invoice)


def send(state: EmulatorState, invoice: Record) -> None:
    """`send_invoice`: only for `collection_method=send_invoice` and finalized invoices.

    A paid invoice may be sent again ("When sending invoices that have already been paid,
    there will be no reference to the payment in the email", `Invoice.send_invoice`
    docstring, stripe-python 16.1.0); test mode sends no e-mail but fires `invoice.sent`.
    """
    if invoice["collection_method"] != "send_invoice":
        raise invalid_transition(
            "You can only manually send an invoice if its collection method is 'send_invoice'."
        )
    if invoice["status"] not in ("open", "paid", "uncollectible"):
        raise invalid_transition(
            f"You can only send finalized invoices; this invoice is {invoice['status']}."
        )
    emit(state, "invoice.sent", invoice)
