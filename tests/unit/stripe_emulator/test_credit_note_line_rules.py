"""Credit note lines of `type: invoice_line_item`: what Stripe allows of them, through the
unmodified SDK (stripe-python 16.1.0, API 2026-10-28.endive).

Stripe's documented rules (docs.stripe.com/invoicing/integration/programmatic-credit-notes):
a quantity credits "the discount quantity times the unit price of that line item"; "You can't
combine discount types on an invoice line item". The emulator's readings, where Stripe documents
no message: the line must be one of the credit note's invoice; more than is left of a line (by
quantity or by amount, across earlier credit notes and the lines of the same request) is a 400
`invalid_request_error` naming the line's parameter, and nothing changes.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorServer

PUSHED = (
    {"amount": 30000, "description": "Work (3 x 100.00)", "metadata": {"bc_line_id": "work"}},
    {"amount": 4550, "description": "Travel", "metadata": {"bc_line_id": "travel"}},
)
WIDGETS = {
    "price_data": {"currency": "usd", "product_data": {"name": "Widget"}, "unit_amount": 2500},
    "quantity": 4,
    "description": "Widget",
}


@pytest.fixture
def customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create(params={"email": "lines@example.com", "name": "Lines"})


def open_invoice(
    client: stripe.StripeClient, customer: stripe.Customer, *lines: dict[str, Any]
) -> stripe.Invoice:
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": "usd"})
    params: dict[str, Any] = {"lines": list(lines) or list(PUSHED)}
    client.v1.invoices.add_lines(invoice.id, params=params)  # type: ignore[arg-type]
    return client.v1.invoices.finalize_invoice(invoice.id)


def create(client: stripe.StripeClient, invoice: stripe.Invoice, *lines: dict[str, Any]) -> Any:
    params: dict[str, Any] = {"invoice": invoice.id, "lines": list(lines)}
    return client.v1.credit_notes.create(params=params)  # type: ignore[arg-type]


def on(line: stripe.InvoiceLineItem, **credit: Any) -> dict[str, Any]:
    return {"type": "invoice_line_item", "invoice_line_item": line.id, **credit}


def refused(caught: pytest.ExceptionInfo[stripe.InvalidRequestError], param: str) -> str:
    """The error has Stripe's shape: 400, `invalid_request_error`, the parameter named."""
    error = caught.value
    assert error.http_status == 400
    assert error.error is not None
    assert (error.error.type, error.error.param) == ("invalid_request_error", param)
    body: dict[str, Any] = dict(error.json_body or {})  # type: ignore[call-overload]
    assert set(body) == {"error"}
    assert body["error"]["message"] == error.user_message
    return error.user_message or ""


def unchanged(client: stripe.StripeClient, invoice: stripe.Invoice) -> None:
    after = client.v1.invoices.retrieve(invoice.id)
    assert (after.amount_remaining, after.pre_payment_credit_notes_amount) == (
        invoice.amount_remaining,
        invoice.pre_payment_credit_notes_amount,
    )


class TestTheLineMustBeTheInvoices:
    def test_a_line_of_another_invoice_is_refused(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice, other = open_invoice(client, customer), open_invoice(client, customer)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice, on(invoice.lines.data[1], quantity=1),
                   on(other.lines.data[0], amount=100))  # fmt: skip
        message = refused(caught, "lines[1][invoice_line_item]")
        assert other.lines.data[0].id in message
        assert invoice.id in message
        assert caught.value.code is None
        unchanged(client, invoice)
        assert not client.v1.credit_notes.list(params={"invoice": invoice.id}).data

    def test_an_unknown_line_is_no_such_line(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice, {"type": "invoice_line_item", "invoice_line_item": "il_no",
                                     "amount": 1})  # fmt: skip
        assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")
        assert caught.value.user_message == "No such invoice line item: 'il_no'"


class TestNoMoreThanIsLeft:
    def test_a_quantity_beyond_what_earlier_credit_notes_left(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer, WIDGETS)
        widgets = invoice.lines.data[0]
        create(client, invoice, on(widgets, quantity=3))
        before = client.v1.invoices.retrieve(invoice.id)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice, on(widgets, quantity=2))
        assert "(2)" in refused(caught, "lines[0][quantity]")
        assert "(1)" in (caught.value.user_message or "")
        unchanged(client, before)
        assert create(client, invoice, on(widgets, quantity=1)).amount == 2500

    def test_an_amount_beyond_what_is_left_of_the_line(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        work = invoice.lines.data[0]
        create(client, invoice, on(work, amount=10000))
        before = client.v1.invoices.retrieve(invoice.id)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice, on(work, amount=20001))
        assert "(20000)" in refused(caught, "lines[0][amount]")
        unchanged(client, before)
        assert create(client, invoice, on(work, amount=20000)).amount == 20000

    def test_two_lines_of_one_request_on_the_same_invoice_line_add_up(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        work = invoice.lines.data[0]
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice, on(work, amount=20000), on(work, amount=10001))
        refused(caught, "lines[1][amount]")
        unchanged(client, invoice)

    def test_a_voided_credit_note_gives_the_line_back(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        travel = invoice.lines.data[1]
        note = create(client, invoice, on(travel, quantity=1))
        with pytest.raises(stripe.InvalidRequestError):
            create(client, invoice, on(travel, quantity=1))
        client.v1.credit_notes.void_credit_note(note.id)
        assert create(client, invoice, on(travel, quantity=1)).amount == 4550


class TestTheInvoiceFollows:
    def test_line_credits_before_payment_lower_what_is_due(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        work, travel = invoice.lines.data
        note = create(
            client, invoice,
            on(work, amount=10000, metadata={"bc_line_sequence": "10000"}),
            on(travel, quantity=1, metadata={"bc_line_sequence": "20000"}),
            {"type": "custom_line_item", "description": "Goodwill", "quantity": 1,
             "unit_amount": 1000, "metadata": {"bc_line_sequence": "30000"}},
        )  # fmt: skip
        assert (note.amount, note.type, note.pre_payment_amount) == (15550, "pre_payment", 15550)
        listed = client.v1.credit_notes.line_items.list(note.id).data
        assert [(x.invoice_line_item, x.quantity, x.amount) for x in listed] == [
            (work.id, None, 10000), (travel.id, 1, 4550), (None, 1, 1000),
        ]  # fmt: skip
        assert [x.metadata.to_dict() for x in listed if x.metadata is not None] == [
            {"bc_line_sequence": "10000"}, {"bc_line_sequence": "20000"},
            {"bc_line_sequence": "30000"},
        ]  # fmt: skip
        after = client.v1.invoices.retrieve(invoice.id)
        assert (after.status, after.amount_remaining) == ("open", 34550 - 15550)
        assert (after.pre_payment_credit_notes_amount, after.post_payment_credit_notes_amount) == (
            15550, 0,
        )  # fmt: skip

    def test_line_credits_on_a_partly_paid_invoice_are_mixed(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        work, travel = invoice.lines.data
        emu.pay_invoice(invoice.id, amount=30000)  # 45.50 left to pay
        params: dict[str, Any] = {
            "invoice": invoice.id,
            "lines": [on(work, amount=5000), on(travel, quantity=1)],
            "credit_amount": 5000,
        }
        note = client.v1.credit_notes.create(params=params)  # type: ignore[arg-type]
        assert (note.type, note.pre_payment_amount, note.post_payment_amount) == (
            "mixed", 4550, 5000,
        )  # fmt: skip
        after = client.v1.invoices.retrieve(invoice.id)
        assert (after.status, after.amount_remaining, after.amount_paid) == ("paid", 0, 30000)
        assert (after.pre_payment_credit_notes_amount, after.post_payment_credit_notes_amount) == (
            4550, 5000,
        )  # fmt: skip
        with pytest.raises(stripe.InvalidRequestError) as caught:  # the post-payment split
            create(client, invoice, on(work, amount=100))
        refused(caught, "out_of_band_amount")
