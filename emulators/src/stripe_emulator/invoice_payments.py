"""InvoicePayment bookkeeping: how payments reach an invoice at `2026-10-28.endive`.

At finalization an invoice with something to collect gets a default PaymentIntent and a
default InvoicePayment (`is_default`, `open`, `amount_requested` = amount remaining). Paying
the whole remainder confirms that default intent; a partial payment confirms a new intent
with its own non-default InvoicePayment and shrinks the default one to the new remainder.
Each paid InvoicePayment raises `amount_paid`; at zero remaining the invoice becomes `paid`
(`invoice.paid`, `invoice.payment_succeeded`). Paying out of band or voiding cancels the
default payment (stripe-api.md §5: no `invoice.charge` / `invoice.payment_intent`). An
InvoicePayment's `payment` is a PaymentIntent or, for money received outside Stripe, a
PaymentRecord (payment_records.py); whatever moves `amount_remaining` (partial and attached
payments, pre-payment credit notes) keeps the open default payment at that amount.
"""

from __future__ import annotations

from .charges import cancel_intent
from .charges import confirm_intent
from .charges import create_intent
from .disputes import dispute_if_test_card
from .errors import StripeError
from .errors import invalid_transition
from .events import emit
from .ids import new_id
from .state import EmulatorState
from .store import Record


def new_invoice_payment(
    state: EmulatorState, invoice: Record, source: Record, *, amount: int, is_default: bool
) -> Record:
    """An `open` InvoicePayment for a PaymentIntent or a PaymentRecord (`source`)."""
    kind = str(source["object"])
    payment: Record = {
        "id": new_id("invoice_payment"),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": amount,
        "created": state.clock.now(),
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": is_default,
        "livemode": False,
        "payment": {"type": kind, kind: source["id"]},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }
    return state.store.add("invoice_payment", payment)


def default_payment(state: EmulatorState, invoice: Record) -> Record | None:
    for payment in state.store.all("invoice_payment"):
        if payment["invoice"] == invoice["id"] and payment["is_default"]:
            return payment
    return None


def open_default_payment(state: EmulatorState, invoice: Record) -> None:
    """Create the default PaymentIntent + InvoicePayment at finalization."""
    intent = create_intent(
        state,
        amount=invoice["amount_remaining"],
        currency=invoice["currency"],
        customer=invoice["customer"],
        description=f"Invoice {invoice['number']}",
    )
    new_invoice_payment(state, invoice, intent, amount=invoice["amount_remaining"], is_default=True)


def cancel_default_payment(state: EmulatorState, invoice: Record) -> None:
    """Cancel the open default payment (void, paid out of band)."""
    payment = default_payment(state, invoice)
    if payment is None or payment["status"] != "open":
        return
    payment["status"] = "canceled"
    payment["status_transitions"]["canceled_at"] = state.clock.now()
    intent = state.store.get("payment_intent", payment["payment"]["payment_intent"])
    if intent is not None:
        cancel_intent(state, intent, "void_invoice" if invoice["status"] == "void" else None)


def require_collectable(invoice: Record) -> None:
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_transition(
            f"Invoice {invoice['id']} cannot be paid because its status is {invoice['status']}; "
            "only open or uncollectible invoices can be paid."
        )


def pay_by_card(
    state: EmulatorState, invoice: Record, amount: int | None, payment_method: str
) -> Record:
    """Charge `amount` (default: everything remaining) to a card; returns the InvoicePayment."""
    require_collectable(invoice)
    remaining = int(invoice["amount_remaining"])
    amount = remaining if amount is None else amount
    if amount <= 0 or amount > remaining:
        raise StripeError(
            400,
            f"The payment amount must be between 1 and the amount remaining ({remaining}).",
            code="amount_too_large" if amount > remaining else "amount_too_small",
            param="amount",
        )
    default = default_payment(state, invoice)
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    if default is not None and default["status"] == "open" and amount == remaining:
        payment = default
        intent = state.store.require("payment_intent", payment["payment"]["payment_intent"])
        intent["amount"] = amount
    else:
        intent = create_intent(
            state,
            amount=amount,
            currency=invoice["currency"],
            customer=invoice["customer"],
            description=f"Invoice {invoice['number']} (partial payment)",
        )
        payment = new_invoice_payment(state, invoice, intent, amount=amount, is_default=False)
    try:
        charge = confirm_intent(state, intent, payment_method)
    except StripeError:
        emit(state, "invoice.payment_failed", invoice)
        raise
    settle(state, invoice, payment, amount)
    sync_default_payment(state, invoice)
    dispute_if_test_card(state, charge)  # a dispute test card: after the invoice is settled
    return payment


def sync_default_payment(state: EmulatorState, invoice: Record) -> None:
    """Keep the open default payment (and its PaymentIntent) at the amount remaining.

    The default payment tracks `amount_remaining` (stripe-api.md §5); partial payments,
    attached payments and pre-payment credit notes all move that amount.
    """
    default = default_payment(state, invoice)
    remaining = int(invoice["amount_remaining"])
    if default is None or default["status"] != "open" or remaining <= 0:
        return
    default["amount_requested"] = remaining
    intent = state.store.get("payment_intent", default["payment"]["payment_intent"])
    if intent is not None:
        intent["amount"] = remaining


def settle(state: EmulatorState, invoice: Record, payment: Record, amount: int) -> None:
    """Mark an InvoicePayment paid and move the invoice's amounts (and status when done)."""
    now = state.clock.now()
    payment["status"] = "paid"
    payment["amount_paid"] = amount
    payment["status_transitions"]["paid_at"] = now
    emit(state, "invoice_payment.paid", payment)
    invoice["amount_paid"] += amount
    invoice["amount_remaining"] = invoice["amount_due"] - invoice["amount_paid"]
    state.store.touch("invoice", invoice)
    if invoice["amount_remaining"] <= 0:
        mark_paid(state, invoice)
    else:
        emit(state, "invoice.updated", invoice, {"amount_paid": invoice["amount_paid"] - amount})


def mark_paid(state: EmulatorState, invoice: Record) -> None:
    """Final transition to `paid` with its events."""
    default = default_payment(state, invoice)
    if default is not None and default["status"] == "open":
        # Partial payments covered everything: the default payment is no longer needed.
        cancel_default_payment(state, invoice)
    invoice["status"] = "paid"
    invoice["status_transitions"]["paid_at"] = state.clock.now()
    invoice["amount_remaining"] = 0
    state.store.touch("invoice", invoice)
    emit(state, "invoice.paid", invoice)
    emit(state, "invoice.payment_succeeded", invoice)


def pay_out_of_band(state: EmulatorState, invoice: Record) -> None:
    """`pay(paid_out_of_band=true)`: settled outside Stripe, no charge is made."""
    require_collectable(invoice)
    remaining = int(invoice["amount_remaining"])
    invoice["amount_paid"] += remaining
    invoice["_amount_paid_off_stripe"] += remaining
    cancel_default_payment(state, invoice)
    mark_paid(state, invoice)


def attach_intent(state: EmulatorState, invoice: Record, intent: Record) -> Record:
    """`attach_payment(payment_intent=...)` for a succeeded PaymentIntent."""
    require_collectable(invoice)
    if intent["status"] != "succeeded" or intent["currency"] != invoice["currency"]:
        raise StripeError(
            400,
            "Only succeeded PaymentIntents in the invoice currency can be attached "
            "by the emulator.",
            param="payment_intent",
        )
    for existing in state.store.all("invoice_payment"):
        if existing["payment"].get("payment_intent") == intent["id"]:
            raise StripeError(
                400,
                "This PaymentIntent is already attached to an invoice.",
                code="resource_already_exists",
                param="payment_intent",
            )
    amount = min(int(intent["amount_received"]), int(invoice["amount_remaining"]))
    payment = new_invoice_payment(state, invoice, intent, amount=amount, is_default=False)
    settle(state, invoice, payment, amount)
    sync_default_payment(state, invoice)
    return payment
