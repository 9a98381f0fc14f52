"""Matching end to end: what the connector does when BC and Stripe do not line up neatly.

A customer changed in BC, a payment larger than what BC still has open, and Stripe payments that
name no BC invoice or one that does not exist. Real sockets and processes, as in ``test_flows``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from e2e_helpers import new_customer
from e2e_helpers import post_invoice
from e2e_helpers import posted_lines
from e2e_helpers import pushed
from e2e_helpers import unposted_lines
from e2e_helpers import wait_posted
from e2e_helpers import wait_record
from factories import wait_until

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def _stripe(stack: LocalStack) -> stripe.StripeClient:
    return stripe.StripeClient(
        stack.stripe_key, base_addresses={"api": stack.stripe.base_url}, max_network_retries=0
    )


def _foreign_stripe_invoice(
    stack: LocalStack, metadata: dict[str, str], currency: str = "usd"
) -> str:
    """A Stripe invoice raised outside the connector (by hand, another tool), finalized."""
    client = _stripe(stack)
    customer = client.v1.customers.create({"name": "Walk-in customer"})
    invoice = client.v1.invoices.create(
        {
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "currency": currency,
            "metadata": metadata,
        }
    )
    assert invoice.id is not None
    client.v1.invoices.add_lines(
        invoice.id, {"lines": [{"amount": 2500, "description": "Walk-in sale"}]}
    )
    client.v1.invoices.finalize_invoice(invoice.id)
    return invoice.id


def _customer_link(stack: LocalStack, number: str) -> tuple[Any, ...] | None:
    """The link's name and e-mail, as kept for the console's search, and their search forms."""
    engine = sa.create_engine(stack.env["MLC_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text(
                    "SELECT name, email, name_key, email_key FROM customer_links "
                    "WHERE bc_customer_number = :number"
                ),
                {"number": number},
            ).one_or_none()
    finally:
        engine.dispose()
    return None if row is None else tuple(row)


class TestCustomers:
    def test_a_bc_customer_change_updates_the_linked_stripe_customer(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        number = new_customer(stack)
        record = pushed(connector, post_invoice(stack, number, {"quantity": 1, "unitPrice": 80}))
        # The link keeps BC's name (and no e-mail: the customer has none) for the search.
        name = f"Customer {number}"
        assert _customer_link(stack, number) == (name, None, name.casefold(), None)
        stripe_ref = record["stripe_ref"]
        stripe_invoice = stack.stripe.admin("GET", f"objects/invoice/{stripe_ref}")
        stripe_customer = str(stripe_invoice["customer"])
        (bc_customer,) = stack.bc_api_get("customers", {"$filter": f"number eq '{number}'"})

        stack.bc_api(
            "PATCH",
            f"customers({bc_customer['id']})",
            {"displayName": "Renamed Trading Ltd", "email": "ap@renamed.example"},
            etag=bc_customer["@odata.etag"],
        )
        stack.bc_admin("POST", "/notifications/flush")

        def updated() -> bool:
            now = stack.stripe.admin("GET", f"objects/customer/{stripe_customer}")
            return bool(now.get("email") == "ap@renamed.example")

        connector.wait_for("the Stripe customer updated", updated, timeout=60)
        now = stack.stripe.admin("GET", f"objects/customer/{stripe_customer}")
        assert now["name"] == "Renamed Trading Ltd"
        assert now["metadata"]["bc_customer_number"] == number
        customers = _stripe(stack).v1.customers.list({"email": "ap@renamed.example"})
        assert [c.id for c in customers.data] == [stripe_customer]  # updated, not duplicated
        renamed = ("Renamed Trading Ltd", "ap@renamed.example")
        renamed_keys = ("renamed trading ltd", "ap@renamed.example")
        assert wait_until(lambda: _customer_link(stack, number) == renamed + renamed_keys)


class TestPaymentsThatDoNotLineUp:
    def test_an_overpayment_posts_what_was_paid_and_is_flagged(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": 100})
        record = pushed(connector, invoice)
        # A clerk books 30.00 received in cash against the invoice in BC first.
        (clearing,) = stack.bc_api_get("accounts", {"$filter": "number eq '10900'"})
        batch = stack.bc_api(
            "POST",
            "customerPaymentJournals",
            {"code": "CASH" + secrets.token_hex(2).upper(), "balancingAccountId": clearing["id"]},
        )
        stack.bc_api(
            "POST",
            f"customerPaymentJournals({batch['id']})/customerPayments",
            {
                "customerId": invoice["customerId"],
                "postingDate": dt.date.today().isoformat(),
                "documentNumber": "CASH" + secrets.token_hex(3).upper(),
                "amount": -30,
                "appliesToInvoiceId": invoice["id"],
            },
        )
        stack.bc_api("POST", f"journals({batch['id']})/Microsoft.NAV.post")

        charge = connector.pay(record["stripe_ref"])["charge"]["id"]
        payment = wait_record(connector, kind="payment", stripe_ref=charge)

        assert payment["state"] == "succeeded", payment
        lines = wait_posted(stack, charge)
        assert [Decimal(str(r["amount"])) for r in lines] == [Decimal("-100")]
        # Flagged when the line was written if BC's notification of the cash came first, else
        # when the batch poster held the batch against BC's open amounts before posting it.
        detail: dict[str, Any] = {}

        def flagged() -> bool:
            detail.update(connector.record(payment["id"]))
            return bool(detail["record"]["flags"])

        assert wait_until(flagged, timeout_s=10)
        assert detail["record"]["flags"] == {"overpaid": True, "overpaid_by": "30.00"}
        story = [step["summary"] for step in detail["audit"]]
        assert any("overpays BC invoice" in text and "by 30.00" in text for text in story)

    @pytest.mark.parametrize(
        ("metadata", "reason"),
        [
            ({}, "carries no BC invoice in its metadata"),
            ({"bc_invoice_id": str(uuid.uuid4())}, "does not exist"),
        ],
        ids=["no-metadata", "unknown-bc-invoice"],
    )
    def test_a_payment_naming_no_known_bc_invoice_is_unmatched_not_guessed(
        self, stack: LocalStack, connector: Connector, metadata: dict[str, str], reason: str
    ) -> None:
        if metadata:
            metadata = {**metadata, "bc_company_id": stack.company_id}
        invoice_id = _foreign_stripe_invoice(stack, metadata)
        bc_calls_before = int(stack.bc_admin("GET", "/stats")["apiRequests"])

        charge = stack.stripe.pay_invoice(invoice_id)["charge"]["id"]
        payment = wait_record(connector, kind="payment", stripe_ref=charge)

        assert payment["state"] == "unmatched", payment
        assert reason in payment["last_error"]
        assert posted_lines(stack, charge) + unposted_lines(stack, charge) == []
        # Who paid is kept for the console's search: the Stripe invoice's customer.
        payer = stack.stripe.admin("GET", f"objects/invoice/{invoice_id}")["customer"]
        assert payment["flags"]["payer"]["customer"] == payer
        if not metadata:  # nothing named in BC: BC was not even asked
            assert int(stack.bc_admin("GET", "/stats")["apiRequests"]) == bc_calls_before

    def test_a_payment_in_another_currency_than_its_bc_invoice_is_unmatched(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": 25})
        pushed(connector, invoice)  # a USD invoice in BC
        metadata = {"bc_company_id": stack.company_id, "bc_invoice_id": str(invoice["id"])}
        invoice_id = _foreign_stripe_invoice(stack, metadata, currency="eur")

        charge = stack.stripe.pay_invoice(invoice_id)["charge"]["id"]
        payment = wait_record(connector, kind="payment", stripe_ref=charge)

        assert payment["state"] == "unmatched", payment
        assert "does not match its BC invoice" in payment["last_error"]
        assert "EUR" in payment["last_error"]
        assert "USD" in payment["last_error"]
        assert unposted_lines(stack, charge) == []
