"""Invoices at API version 2026-10-28.endive: lifecycle, amounts, InvoicePayments, errors."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorServer

N = type(None)
Shape = dict[str, tuple[type, ...]]
CheckShape = Callable[[object, type, Shape], dict[str, Any]]

INVOICE: Shape = {
    "id": (str,), "object": (str,), "amount_due": (int,), "amount_paid": (int,),
    "amount_remaining": (int,), "amount_overpaid": (int,),
    "amount_shipping": (int,), "subtotal": (int,), "subtotal_excluding_tax": (int, N),
    "total": (int,), "total_excluding_tax": (int, N), "total_taxes": (list,),
    "total_discount_amounts": (list,), "total_pretax_credit_amounts": (list,),
    "starting_balance": (int,), "ending_balance": (int, N), "currency": (str,),
    "status": (str,), "status_transitions": (dict,), "number": (str, N),
    "hosted_invoice_url": (str, N), "invoice_pdf": (str, N), "due_date": (int, N),
    "collection_method": (str,), "auto_advance": (bool,), "metadata": (dict,),
    "description": (str, N), "footer": (str, N), "customer": (str,), "customer_email": (str, N),
    "customer_name": (str, N), "lines": (dict,), "parent": (dict, N),
    "confirmation_secret": (dict, N), "last_finalization_error": (dict, N),
    "webhooks_delivered_at": (int, N), "created": (int,), "livemode": (bool,),
}  # fmt: skip
LINE: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "currency": (str,), "pricing": (dict,),
    "quantity": (int,), "quantity_decimal": (Decimal,), "taxes": (list,),
    "discount_amounts": (list,), "pretax_credit_amounts": (list,), "period": (dict,),
    "metadata": (dict,), "invoice": (str,), "parent": (dict,),
}  # fmt: skip
INVOICE_PAYMENT: Shape = {
    "id": (str,), "object": (str,), "amount_paid": (int, N), "amount_requested": (int,),
    "currency": (str,), "invoice": (str,), "is_default": (bool,), "status": (str,),
    "status_transitions": (dict,), "payment": (dict,), "created": (int,), "livemode": (bool,),
}  # fmt: skip
REMOVED_AT_BASIL = ("charge", "payment_intent", "paid", "paid_out_of_band")


@pytest.fixture
def customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create(params={"email": "bc@example.com", "name": "BC Customer"})


def draft(client: stripe.StripeClient, customer: stripe.Customer, **extra: Any) -> stripe.Invoice:
    params: dict[str, Any] = {
        "customer": customer.id,
        "collection_method": "send_invoice",
        "days_until_due": 30,
        "currency": "eur",
        "auto_advance": False,
        "metadata": {"bc_document_no": "SI-1001"},
        **extra,
    }
    return client.v1.invoices.create(params=params)  # type: ignore[arg-type]


def open_invoice(
    client: stripe.StripeClient, customer: stripe.Customer, amount: int
) -> stripe.Invoice:
    invoice = draft(client, customer)
    client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": amount}]})
    return client.v1.invoices.finalize_invoice(invoice.id)


class TestLifecycle:
    def test_draft_add_lines_finalize_pay_by_card(
        self,
        emu: EmulatorServer,
        client: stripe.StripeClient,
        customer: stripe.Customer,
        assert_shape: CheckShape,
    ) -> None:
        invoice = draft(client, customer)
        assert (invoice.status, invoice.number, invoice.hosted_invoice_url) == ("draft", None, None)
        invoice = client.v1.invoices.add_lines(
            invoice.id,
            params={
                "lines": [
                    {
                        "amount": 10000,
                        "description": "Consulting",
                        "metadata": {"bc_line": "10000"},
                    },
                    {
                        "price_data": {
                            "currency": "eur",
                            "product_data": {"name": "Widget"},
                            "unit_amount_decimal": Decimal("250.5"),
                        },
                        "quantity_decimal": Decimal("3"),
                        "description": "Widgets",
                        "tax_amounts": [
                            {
                                "amount": 143,
                                "taxable_amount": 752,
                                "tax_rate_data": {
                                    "display_name": "VAT",
                                    "inclusive": False,
                                    "percentage": 19.0,
                                },
                            }
                        ],
                    },
                ]
            },
        )
        data = assert_shape(invoice, stripe.Invoice, INVOICE)
        for field in REMOVED_AT_BASIL:
            assert field not in data
        assert [line.amount for line in invoice.lines.data] == [10000, 752]  # 250.5 x 3 rounded
        assert_shape(invoice.lines.data[1], stripe.InvoiceLineItem, LINE)
        assert invoice.lines.data[1].quantity_decimal == Decimal("3")
        assert (invoice.subtotal, invoice.total, invoice.amount_due) == (10752, 10895, 10895)
        assert invoice.total_excluding_tax == 10752
        assert invoice.total_taxes is not None
        assert [t.amount for t in invoice.total_taxes] == [143]

        invoice = client.v1.invoices.finalize_invoice(invoice.id)
        assert invoice.status == "open"
        assert invoice.number is not None
        assert invoice.number.endswith("-0001")
        assert invoice.hosted_invoice_url is not None
        assert invoice.status_transitions.finalized_at is not None
        assert invoice.due_date is not None

        paid = emu.pay_invoice(invoice.id)
        assert paid["charge"]["amount"] == 10895
        invoice = client.v1.invoices.retrieve(
            invoice.id, params={"expand": ["payments.data.payment.payment_intent"]}
        )
        assert (invoice.status, invoice.amount_paid, invoice.amount_remaining) == ("paid", 10895, 0)
        assert invoice.status_transitions.paid_at is not None
        assert invoice.payments is not None
        [payment] = invoice.payments.data
        assert_shape(payment, stripe.InvoicePayment, INVOICE_PAYMENT)
        assert (payment.is_default, payment.status, payment.amount_paid) == (True, "paid", 10895)
        intent = payment.payment.payment_intent
        assert isinstance(intent, stripe.PaymentIntent)
        assert (intent.status, intent.amount_received) == ("succeeded", 10895)
        assert intent.latest_charge == paid["charge"]["id"]

    def test_numbers_follow_the_customer_sequence(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        first = open_invoice(client, customer, 1000)
        second = open_invoice(client, customer, 2000)
        assert first.number is not None
        assert second.number is not None
        prefix = first.number.rsplit("-", 1)[0]
        assert (first.number, second.number) == (f"{prefix}-0001", f"{prefix}-0002")

    def test_partial_payments_create_separate_invoice_payments(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer, 10000)
        emu.pay_invoice(invoice.id, amount=2500)
        invoice = client.v1.invoices.retrieve(invoice.id)
        assert (invoice.status, invoice.amount_paid, invoice.amount_remaining) == (
            "open",
            2500,
            7500,
        )
        payments = client.v1.invoice_payments.list(params={"invoice": invoice.id})
        by_default = {p.is_default: p for p in payments.data}
        assert by_default[False].amount_paid == 2500
        assert by_default[True].status == "open"
        assert by_default[True].amount_requested == 7500
        emu.pay_invoice(invoice.id)
        invoice = client.v1.invoices.retrieve(invoice.id)
        assert (invoice.status, invoice.amount_paid, invoice.amount_remaining) == ("paid", 10000, 0)
        paid = client.v1.invoice_payments.list(params={"invoice": invoice.id, "status": "paid"})
        assert sorted(p.amount_paid or 0 for p in paid.data) == [2500, 7500]

    def test_reverse_lookup_from_payment_intent_to_invoice(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer, 4200)
        intent_id = emu.pay_invoice(invoice.id)["payment_intent"]["id"]
        found = client.v1.invoice_payments.list(
            params={"payment": {"type": "payment_intent", "payment_intent": intent_id}}
        )
        assert [p.invoice for p in found.data] == [invoice.id]
        assert isinstance(
            client.v1.invoice_payments.retrieve(found.data[0].id), stripe.InvoicePayment
        )

    def test_paid_out_of_band(self, client: stripe.StripeClient, customer: stripe.Customer) -> None:
        invoice = open_invoice(client, customer, 5000)
        invoice = client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
        assert (invoice.status, invoice.amount_paid) == ("paid", 5000)
        # `amount_paid_off_stripe` is includable (docs.stripe.com/changelog/dahlia/2026-05-27/
        # invoice-object-amount-paid-off-stripe-property): only there when expanded.
        assert "amount_paid_off_stripe" not in invoice
        expanded = client.v1.invoices.retrieve(
            invoice.id, params={"expand": ["amount_paid_off_stripe"]}
        )
        assert expanded.amount_paid_off_stripe == 5000
        assert client.v1.charges.list().data == []

    def test_void_and_mark_uncollectible(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        voided = client.v1.invoices.void_invoice(open_invoice(client, customer, 1000).id)
        assert voided.status == "void"
        assert voided.status_transitions.voided_at is not None
        [default] = client.v1.invoice_payments.list(params={"invoice": voided.id}).data
        assert default.status == "canceled"
        bad = client.v1.invoices.mark_uncollectible(open_invoice(client, customer, 1000).id)
        assert bad.status == "uncollectible"
        assert client.v1.invoices.void_invoice(bad.id).status == "void"

    def test_zero_amount_invoice_is_paid_at_finalization(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = client.v1.invoices.finalize_invoice(draft(client, customer).id)
        assert (invoice.status, invoice.amount_due) == ("paid", 0)


class TestInvalidTransitions:
    def test_finalizing_twice_gives_stripe_error_shape(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer, 1000)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.invoices.finalize_invoice(invoice.id)
        assert caught.value.http_status == 400
        assert caught.value.code == "status_transition_invalid"
        body = caught.value.json_body
        assert isinstance(body, dict)
        assert body["error"]["type"] == "invalid_request_error"
        assert "message" in body["error"]

    def test_void_draft_and_edit_open_invoice_are_refused(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.invoices.void_invoice(draft(client, customer).id)
        invoice = open_invoice(client, customer, 1000)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": 5}]})
        assert caught.value.code == "invoice_not_editable"
        paid = client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.invoices.pay(paid.id, params={"paid_out_of_band": True})
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.invoices.mark_uncollectible(paid.id)


class TestQueries:
    def test_list_filters_by_customer_status_and_created(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        other = client.v1.customers.create(params={"email": "other@example.com"})
        open_one = open_invoice(client, customer, 1000)
        draft_one = draft(client, customer)
        draft(client, other)
        mine = client.v1.invoices.list(params={"customer": customer.id})
        assert {i.id for i in mine.data} == {open_one.id, draft_one.id}
        drafts = client.v1.invoices.list(params={"customer": customer.id, "status": "draft"})
        assert [i.id for i in drafts.data] == [draft_one.id]
        later = client.v1.invoices.list(params={"created": {"gt": open_one.created + 3600}})
        assert later.data == []

    def test_line_list_and_update_and_remove(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = draft(client, customer)
        invoice = client.v1.invoices.add_lines(
            invoice.id, params={"lines": [{"amount": 100}, {"amount": 200}, {"amount": 300}]}
        )
        lines = client.v1.invoices.line_items.list(invoice.id, params={"limit": 2})
        assert [line.amount for line in lines.data] == [100, 200]
        assert lines.has_more is True
        first, second = lines.data
        invoice = client.v1.invoices.update_lines(
            invoice.id, params={"lines": [{"id": first.id, "amount": 150}]}
        )
        assert invoice.subtotal == 650
        invoice = client.v1.invoices.remove_lines(
            invoice.id, params={"lines": [{"id": second.id, "behavior": "delete"}]}
        )
        assert (invoice.subtotal, len(invoice.lines.data)) == (450, 2)

    def test_invoice_items_join_a_draft_and_pending_items_are_included(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        item = client.v1.invoice_items.create(
            params={"customer": customer.id, "currency": "eur", "amount": 700}
        )
        assert isinstance(item, stripe.InvoiceItem)
        assert item.invoice is None
        invoice = draft(client, customer, pending_invoice_items_behavior="include")
        assert (invoice.subtotal, invoice.lines.data[0].amount) == (700, 700)
        assert client.v1.invoice_items.retrieve(item.id).invoice == invoice.id
