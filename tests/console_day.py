"""A small business day for the console's browser tests, made through BC and Stripe as people do.

In BC: four customers and their posted invoices. In Stripe: the first invoice paid by card, two
partial refunds of it (each a "Refund to finish in BC" item), a payout; then four payments the
connector cannot match: three charges made outside Stripe invoicing that name a BC invoice only
as a typed reference (one for a clerk to apply by mouse, one by keyboard, one that stays for the
pages and screenshots), and a Stripe invoice raised by hand, paid, that names nothing. Every
step waits for the connector, observed through the reconciler's API, as ``mlc_local.scenario``
does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import stripe
from e2e_helpers import post_invoice
from e2e_helpers import pushed
from e2e_helpers import wait_record

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack

CUSTOMERS = {
    "adatum": ("C10000", "Adatum Corporation", "ap@adatum.example"),
    "trey": ("C20000", "Trey Research", "billing@trey.example"),
    "fourth": ("C30000", "Fourth Coffee", "accounts@fourthcoffee.example"),
    "litware": ("C40000", "Litware Inc.", "finance@litware.example"),
}


@dataclasses.dataclass(frozen=True)
class Day:
    """What the day made: BC invoices (as BC returned them) and the reconciler's records."""

    paid_invoice: dict[str, Any]  # 120.00, paid in Stripe, then refunded twice in part
    invoice_record: dict[str, Any]
    payment_record: dict[str, Any]
    refund_records: list[dict[str, Any]]
    payout_id: str
    named: dict[str, Any]  # 75.00, open: the one the first unmatched charge names
    same_amount: dict[str, Any]  # 75.00, open, another customer: a weaker suggestion
    keyboard_invoice: dict[str, Any]  # 64.00, open: the one the keyboard charge names
    unmatched: dict[str, Any]  # 75.00 charge referring to <named>, no BC invoice id
    keyboard_unmatched: dict[str, Any]  # 64.00 charge referring to <keyboard_invoice>
    waiting: dict[str, Any]  # 75.00 charge referring to <same_amount>: nobody applies it
    foreign: dict[str, Any]  # 75.00 Stripe invoice raised by hand, no BC invoice named


def stripe_client(stack: LocalStack) -> stripe.StripeClient:
    return stripe.StripeClient(
        stack.stripe_key, base_addresses={"api": stack.stripe.base_url}, max_network_retries=0
    )


def _customer(stack: LocalStack, key: str) -> str:
    number, name, email = CUSTOMERS[key]
    stack.bc_admin(
        "POST",
        f"/companies/{stack.company_id}/customers",
        {"number": number, "displayName": name, "email": email},
    )
    return number


def _direct_charge(stack: LocalStack, amount: int, number: str) -> str:
    """A card payment taken outside Stripe invoicing (a payment link whose customer typed the
    invoice number): the number is in its description and metadata, no BC invoice id.

    The metadata copy is what the console can see: stripe-gateway's charge read carries the
    metadata but not the description, the receipt e-mail or the billing details.
    """
    intent = stripe_client(stack).v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "usd",
            "description": f"Payment for {number}",
            "metadata": {"invoice_reference": number},
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    assert isinstance(intent.latest_charge, str), intent
    return intent.latest_charge


def _hand_raised_invoice_paid(stack: LocalStack, amount: int) -> str:
    """A Stripe invoice a person raised by hand (no BC invoice in its metadata), paid by card."""
    client = stripe_client(stack)
    customer = client.v1.customers.create(
        {"name": "Walk-in customer", "email": "walk-in@customers.example"}
    )
    assert customer.id is not None
    invoice = client.v1.invoices.create(
        {
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "currency": "usd",
        }
    )
    assert invoice.id is not None
    client.v1.invoices.add_lines(
        invoice.id, {"lines": [{"amount": amount, "description": "Counter sale"}]}
    )
    client.v1.invoices.finalize_invoice(invoice.id)
    return str(stack.stripe.pay_invoice(invoice.id)["charge"]["id"])


def _settled(connector: Connector, kind: str, stripe_ref: str, state: str) -> dict[str, Any]:
    record = wait_record(connector, timeout=90, kind=kind, stripe_ref=stripe_ref)
    assert record["state"] == state, record
    return record


def make_day(stack: LocalStack, connector: Connector) -> Day:
    numbers = {key: _customer(stack, key) for key in CUSTOMERS}

    def invoice(key: str, price: int, text: str) -> dict[str, Any]:
        line = {"quantity": 1, "unitPrice": price, "description": text}
        return post_invoice(stack, numbers[key], line)

    paid = invoice("adatum", 120, "Advisory, November")
    named = invoice("trey", 75, "Workshop")
    same_amount = invoice("fourth", 75, "Catering")
    keyboard_invoice = invoice("litware", 64, "Licences")

    invoice_record = pushed(connector, paid)
    charge = connector.pay(invoice_record["stripe_ref"])["charge"]["id"]
    payment = _settled(connector, "payment", charge, "succeeded")
    refunds = [connector.refund(charge, amount=amount)["id"] for amount in (1000, 2000)]
    refund_records = [_settled(connector, "refund", r, "succeeded") for r in refunds]
    [payout] = connector.payout("usd")
    wait_record(connector, timeout=90, kind="payout", stripe_ref=payout["id"])

    unmatched = _direct_charge(stack, 7500, named["number"])
    keyboard = _direct_charge(stack, 6400, keyboard_invoice["number"])
    waiting = _direct_charge(stack, 7500, same_amount["number"])
    foreign = _hand_raised_invoice_paid(stack, 7500)
    return Day(
        paid_invoice=paid,
        invoice_record=invoice_record,
        payment_record=payment,
        refund_records=refund_records,
        payout_id=str(payout["id"]),
        named=named,
        same_amount=same_amount,
        keyboard_invoice=keyboard_invoice,
        unmatched=_settled(connector, "payment", unmatched, "unmatched"),
        keyboard_unmatched=_settled(connector, "payment", keyboard, "unmatched"),
        waiting=_settled(connector, "payment", waiting, "unmatched"),
        foreign=_settled(connector, "payment", foreign, "unmatched"),
    )
