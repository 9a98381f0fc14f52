"""Credit notes at 2026-10-28.endive: pre-/post-payment/mixed credits, refunds, customer
balance credits, limits, voiding, previews, lists and events, through the unmodified SDK."""

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

CREDIT_NOTE: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "amount_shipping": (int,),
    "created": (int,), "currency": (str,), "customer": (str,), "customer_account": (str, N),
    "customer_balance_transaction": (str, N), "discount_amount": (int,),
    "discount_amounts": (list,), "effective_at": (int, N), "invoice": (str,), "lines": (dict,),
    "livemode": (bool,), "memo": (str, N), "metadata": (dict, N), "number": (str,),
    "out_of_band_amount": (int, N), "pdf": (str,), "post_payment_amount": (int,),
    "pre_payment_amount": (int,), "pretax_credit_amounts": (list,), "reason": (str, N),
    "refunds": (list,), "shipping_cost": (dict, N), "status": (str,), "subtotal": (int,),
    "subtotal_excluding_tax": (int, N), "total": (int,), "total_excluding_tax": (int, N),
    "total_taxes": (list, N), "type": (str,), "voided_at": (int, N),
}  # fmt: skip
CREDIT_NOTE_LINE: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "description": (str, N),
    "discount_amount": (int,), "discount_amounts": (list,), "invoice_line_item": (str, N),
    "livemode": (bool,), "metadata": (dict, N), "pretax_credit_amounts": (list,),
    "quantity": (int, N), "tax_rates": (list,), "taxes": (list, N), "type": (str,),
    "unit_amount": (int, N), "unit_amount_decimal": (Decimal, N),
}  # fmt: skip
CUSTOMER_BALANCE_TRANSACTION: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "created": (int,),
    "credit_note": (str, N), "currency": (str,), "customer": (str,), "description": (str, N),
    "ending_balance": (int,), "invoice": (str, N), "livemode": (bool,), "metadata": (dict, N),
    "type": (str,),
}  # fmt: skip
WIDGETS = {
    "price_data": {"currency": "usd", "product_data": {"name": "Widget"}, "unit_amount": 2500},
    "quantity": 4,
    "description": "Widget",
}


@pytest.fixture
def customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create(params={"email": "credit@example.com", "name": "Credit"})


def open_invoice(
    client: stripe.StripeClient, customer: stripe.Customer, *lines: dict[str, Any]
) -> stripe.Invoice:
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": "usd"})
    params: dict[str, Any] = {"lines": list(lines) or [WIDGETS]}
    client.v1.invoices.add_lines(invoice.id, params=params)  # type: ignore[arg-type]
    return client.v1.invoices.finalize_invoice(invoice.id)


def paid_invoice(
    emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
) -> tuple[stripe.Invoice, str]:
    invoice = open_invoice(client, customer)
    paid = emu.pay_invoice(invoice.id)
    return client.v1.invoices.retrieve(invoice.id), str(paid["charge"]["id"])


def create(client: stripe.StripeClient, **params: Any) -> stripe.CreditNote:
    return client.v1.credit_notes.create(params=params)  # type: ignore[arg-type]


def event_log(client: stripe.StripeClient) -> list[stripe.Event]:
    """Every event, oldest first."""
    return list(reversed(client.v1.events.list(params={"limit": 100}).data))


def types_after(client: stripe.StripeClient, seen: int) -> list[str]:
    return [e.type for e in event_log(client)[seen:]]


class TestPrePayment:
    def test_shape_and_a_quantity_credit_lowers_what_is_due(
        self, client: stripe.StripeClient, customer: stripe.Customer, assert_shape: CheckShape
    ) -> None:
        invoice = open_invoice(client, customer)
        line_id = invoice.lines.data[0].id
        note = create(
            client,
            invoice=invoice.id,
            lines=[{"type": "invoice_line_item", "invoice_line_item": line_id, "quantity": 1}],
            reason="order_change",
            memo="One widget short",
            metadata={"bc_document_no": "CM-1001"},
        )
        data = assert_shape(note, stripe.CreditNote, CREDIT_NOTE)
        assert data["id"].startswith("cn_")
        assert data["object"] == "credit_note"
        assert (note.amount, note.subtotal, note.total, note.type) == (
            2500, 2500, 2500, "pre_payment",
        )  # fmt: skip
        assert (note.pre_payment_amount, note.post_payment_amount) == (2500, 0)
        assert (note.status, note.reason, note.memo) == (
            "issued",
            "order_change",
            "One widget short",
        )
        assert note.number == f"{invoice.number}-CN-01"
        assert (note.invoice, note.customer, note.currency) == (invoice.id, customer.id, "usd")
        assert note.refunds == []
        assert note.customer_balance_transaction is None
        assert note.effective_at == note.created
        assert data["metadata"] == {"bc_document_no": "CM-1001"}
        [line] = note.lines.data
        assert_shape(line, stripe.CreditNoteLineItem, CREDIT_NOTE_LINE)
        assert line.id.startswith("cnli_")
        assert (line.type, line.invoice_line_item, line.quantity, line.amount) == (
            "invoice_line_item", line_id, 1, 2500,
        )  # fmt: skip
        assert (line.unit_amount, line.unit_amount_decimal, line.description) == (
            2500, Decimal("2500"), "Widget",
        )  # fmt: skip
        after = client.v1.invoices.retrieve(invoice.id)
        assert (after.status, after.total, after.amount_due, after.amount_remaining) == (
            "open", 10000, 7500, 7500,
        )  # fmt: skip
        assert (after.pre_payment_credit_notes_amount, after.post_payment_credit_notes_amount) == (
            2500, 0,
        )  # fmt: skip
        [default] = client.v1.invoice_payments.list(params={"invoice": invoice.id}).data
        assert (default.is_default, default.status, default.amount_requested) == (
            True,
            "open",
            7500,
        )

    def test_collecting_after_a_credit_charges_the_reduced_amount(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        create(client, invoice=invoice.id, amount=1000)
        paid = emu.pay_invoice(invoice.id)
        assert paid["charge"]["amount"] == 9000
        assert (paid["invoice"]["status"], paid["invoice"]["amount_paid"]) == ("paid", 9000)

    def test_a_credit_for_the_whole_amount_due_marks_the_invoice_paid(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        """docs.stripe.com/invoicing/dashboard/credit-notes: "if a credit note reduces the
        balance of an open invoice to 0, the invoice status changes to paid"."""
        invoice = open_invoice(client, customer)
        seen = len(event_log(client))
        note = create(client, invoice=invoice.id, amount=10000, reason="duplicate")
        assert (note.type, note.pre_payment_amount, note.post_payment_amount) == (
            "pre_payment", 10000, 0,
        )  # fmt: skip
        after = client.v1.invoices.retrieve(invoice.id)
        assert (after.status, after.amount_paid, after.amount_due, after.amount_remaining) == (
            "paid", 0, 0, 0,
        )  # fmt: skip
        assert after.status_transitions.paid_at is not None
        [default] = client.v1.invoice_payments.list(params={"invoice": invoice.id}).data
        assert default.status == "canceled"
        assert client.v1.charges.list().data == []
        assert types_after(client, seen) == [
            "invoice.updated", "payment_intent.canceled", "invoice.paid",
            "invoice.payment_succeeded", "credit_note.created",
        ]  # fmt: skip
        updated = client.v1.events.list(params={"type": "invoice.updated"}).data[0]
        assert updated.data.previous_attributes is not None
        assert updated.data.previous_attributes["amount_due"] == 10000

    def test_two_partial_credits_add_up(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        create(client, invoice=invoice.id, amount=4000)
        second = create(client, invoice=invoice.id, amount=6000)
        assert second.number == f"{invoice.number}-CN-02"
        after = client.v1.invoices.retrieve(invoice.id)
        assert (after.status, after.pre_payment_credit_notes_amount) == ("paid", 10000)


class TestPostPayment:
    def test_refund_customer_credit_and_out_of_band_split(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice, charge_id = paid_invoice(emu, client, customer)
        seen = len(event_log(client))
        note = create(
            client,
            invoice=invoice.id,
            amount=6000,
            refund_amount=3000,
            credit_amount=2000,
            out_of_band_amount=1000,
            reason="product_unsatisfactory",
        )
        assert (note.type, note.pre_payment_amount, note.post_payment_amount) == (
            "post_payment", 0, 6000,
        )  # fmt: skip
        assert note.out_of_band_amount == 1000
        [entry] = note.refunds
        assert (entry.amount_refunded, entry.type) == (3000, "refund")
        expanded = client.v1.credit_notes.retrieve(note.id, params={"expand": ["refunds.refund"]})
        refund = expanded.refunds[0].refund
        assert isinstance(refund, stripe.Refund)
        assert (refund.amount, refund.charge, refund.status) == (3000, charge_id, "succeeded")
        txn = client.v1.balance_transactions.retrieve(str(refund.balance_transaction))
        assert (txn.type, txn.amount, txn.fee) == ("refund", -3000, 0)
        charge = client.v1.charges.retrieve(charge_id)
        assert (charge.amount_refunded, charge.refunded) == (3000, False)
        assert client.v1.customers.retrieve(customer.id).balance == -2000
        after = client.v1.invoices.retrieve(invoice.id)
        assert (after.status, after.amount_due, after.amount_paid) == ("paid", 10000, 10000)
        assert (after.pre_payment_credit_notes_amount, after.post_payment_credit_notes_amount) == (
            0, 6000,
        )  # fmt: skip
        assert types_after(client, seen) == [
            "refund.created", "charge.refunded", "invoice.updated", "customer.updated",
            "credit_note.created",
        ]  # fmt: skip

    def test_the_balance_credit_is_a_ledger_entry_applied_to_the_next_invoice(
        self,
        emu: EmulatorServer,
        client: stripe.StripeClient,
        customer: stripe.Customer,
        assert_shape: CheckShape,
    ) -> None:
        invoice, _ = paid_invoice(emu, client, customer)
        note = client.v1.credit_notes.create(
            params={
                "invoice": invoice.id,
                "amount": 2000,
                "credit_amount": 2000,
                "expand": ["customer_balance_transaction"],
            }
        )
        entry = note.customer_balance_transaction
        assert isinstance(entry, stripe.CustomerBalanceTransaction)
        assert_shape(entry, stripe.CustomerBalanceTransaction, CUSTOMER_BALANCE_TRANSACTION)
        assert entry.id.startswith("cbtxn_")
        assert (entry.type, entry.amount, entry.ending_balance) == ("credit_note", -2000, -2000)
        assert (entry.credit_note, entry.invoice, entry.customer) == (
            note.id, invoice.id, customer.id,
        )  # fmt: skip
        updated = client.v1.events.list(params={"type": "customer.updated"}).data[0]
        assert updated.data.to_dict()["previous_attributes"] == {"balance": 0}
        following = open_invoice(client, customer, {"amount": 5000})
        assert (following.starting_balance, following.amount_due, following.ending_balance) == (
            -2000, 3000, 0,
        )  # fmt: skip
        ledger = client.v1.customers.balance_transactions.list(customer.id).data
        assert [(e.type, e.amount, e.ending_balance) for e in ledger] == [
            ("applied_to_invoice", 2000, 0),
            ("credit_note", -2000, -2000),
        ]
        assert client.v1.customers.balance_transactions.retrieve(customer.id, entry.id).id == (
            entry.id
        )

    def test_a_credit_on_a_partly_paid_invoice_is_mixed(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        """A credit note first lowers `amount_remaining` to zero, the rest is post-payment
        (`CreditNote.create` docstring; changelog basil 2025-05-28 `mixed`)."""
        invoice = open_invoice(client, customer)
        paid = emu.pay_invoice(invoice.id, amount=4000)
        note = create(client, invoice=invoice.id, amount=7000, refund_amount=1000)
        assert (note.type, note.pre_payment_amount, note.post_payment_amount) == (
            "mixed", 6000, 1000,
        )  # fmt: skip
        after = client.v1.invoices.retrieve(invoice.id)
        assert (after.status, after.amount_due, after.amount_paid, after.amount_remaining) == (
            "paid", 4000, 4000, 0,
        )  # fmt: skip
        assert (after.pre_payment_credit_notes_amount, after.post_payment_credit_notes_amount) == (
            6000, 1000,
        )  # fmt: skip
        assert client.v1.charges.retrieve(paid["charge"]["id"]).amount_refunded == 1000

    def test_linking_an_existing_refund(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice, charge_id = paid_invoice(emu, client, customer)
        refund = client.v1.refunds.create(params={"charge": charge_id, "amount": 1500})
        note = create(client, invoice=invoice.id, amount=1500, refunds=[{"refund": refund.id}])
        assert [(r.refund, r.amount_refunded) for r in note.refunds] == [(refund.id, 1500)]
        assert len(client.v1.refunds.list().data) == 1
        with pytest.raises(stripe.InvalidRequestError):  # already linked in full
            create(client, invoice=invoice.id, amount=1500, refunds=[{"refund": refund.id}])


class TestLimits:
    def test_the_split_must_equal_the_post_payment_amount(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice, _ = paid_invoice(emu, client, customer)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice=invoice.id, amount=5000, refund_amount=1000, credit_amount=1000)
        assert caught.value.http_status == 400
        assert caught.value.user_message == (
            "The sum of credit amount, refund amount and out of band amount ($20.00) must "
            "equal the credit note amount ($50.00)."
        )
        with pytest.raises(stripe.InvalidRequestError):  # nothing allocated implicitly
            create(client, invoice=invoice.id, amount=5000)
        assert client.v1.credit_notes.list().data == []
        assert client.v1.refunds.list().data == []
        assert client.v1.customers.retrieve(customer.id).balance == 0

    def test_a_pre_payment_credit_takes_no_split(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice=invoice.id, amount=1000, out_of_band_amount=1000)
        assert caught.value.param == "out_of_band_amount"

    def test_credits_cannot_exceed_the_invoice_total(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice=invoice.id, amount=10001)
        assert caught.value.param == "amount"
        create(client, invoice=invoice.id, amount=6000)
        emu.pay_invoice(invoice.id)
        with pytest.raises(stripe.InvalidRequestError):
            create(client, invoice=invoice.id, amount=4001, refund_amount=4001)
        charge = client.v1.charges.list().data[0]
        client.v1.refunds.create(params={"charge": charge.id, "amount": 1000})
        with pytest.raises(stripe.InvalidRequestError):  # refunds outside credit notes count
            create(client, invoice=invoice.id, amount=3001, out_of_band_amount=3001)
        note = create(client, invoice=invoice.id, amount=3000, out_of_band_amount=3000)
        assert note.post_payment_amount == 3000

    def test_refunds_need_a_payment_to_refund(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice=invoice.id, amount=1000, refund_amount=1000)
        assert caught.value.param == "refund_amount"
        note = create(client, invoice=invoice.id, amount=1000, out_of_band_amount=1000)
        assert (note.type, note.out_of_band_amount) == ("post_payment", 1000)

    @pytest.mark.parametrize("state", ["draft", "void", "uncollectible"])
    def test_only_open_or_paid_invoices_take_credit_notes(
        self, client: stripe.StripeClient, customer: stripe.Customer, state: str
    ) -> None:
        if state == "draft":
            invoice = client.v1.invoices.create(params={"customer": customer.id})
            client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": 1000}]})
        else:
            invoice = open_invoice(client, customer)
            if state == "void":
                client.v1.invoices.void_invoice(invoice.id)
            else:
                client.v1.invoices.mark_uncollectible(invoice.id)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(client, invoice=invoice.id, amount=500)
        assert caught.value.param == "invoice"
        assert state in (caught.value.user_message or "")

    def test_line_credits(self, client: stripe.StripeClient, customer: stripe.Customer) -> None:
        invoice = open_invoice(client, customer)
        line_id = invoice.lines.data[0].id

        def credit_line(**line: Any) -> stripe.CreditNote:
            entry = {"type": "invoice_line_item", "invoice_line_item": line_id, **line}
            return create(client, invoice=invoice.id, lines=[entry])

        with pytest.raises(stripe.InvalidRequestError):  # more than the 4 on the line
            credit_line(quantity=5)
        with pytest.raises(stripe.InvalidRequestError) as caught:  # quantity and amount
            credit_line(quantity=1, amount=100)
        assert caught.value.code == "parameters_exclusive"
        with pytest.raises(stripe.InvalidRequestError) as missing:
            create(
                client,
                invoice=invoice.id,
                lines=[{"type": "invoice_line_item", "invoice_line_item": "il_nope", "amount": 1}],
            )
        assert missing.value.code == "resource_missing"
        credit_line(quantity=3)
        with pytest.raises(stripe.InvalidRequestError) as mixed:  # "can't combine" types
            credit_line(amount=100)
        assert "quantity" in (mixed.value.user_message or "")
        with pytest.raises(stripe.InvalidRequestError):  # only one left
            credit_line(quantity=2)
        last = credit_line(quantity=1)
        assert last.amount == 2500
        assert client.v1.invoices.retrieve(invoice.id).status == "paid"

    def test_custom_lines_and_line_taxes(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        taxed = {
            **WIDGETS,
            "tax_amounts": [
                {
                    "amount": 2000,
                    "taxable_amount": 10000,
                    "tax_rate_data": {
                        "display_name": "VAT", "inclusive": False, "percentage": "20",
                    },
                }
            ],
        }  # fmt: skip
        invoice = open_invoice(client, customer, taxed)
        assert invoice.total == 12000
        note = create(
            client,
            invoice=invoice.id,
            lines=[
                {
                    "type": "invoice_line_item",
                    "invoice_line_item": invoice.lines.data[0].id,
                    "quantity": 1,
                },
                {
                    "type": "custom_line_item",
                    "description": "Goodwill",
                    "quantity": 2,
                    "unit_amount": 150,
                },
            ],
        )
        assert (note.subtotal, note.total, note.amount, note.total_excluding_tax) == (
            2800, 3300, 3300, 2800,
        )  # fmt: skip
        assert note.total_taxes is not None
        assert [(t.amount, t.taxable_amount) for t in note.total_taxes] == [(500, 2500)]
        widget, goodwill = note.lines.data
        assert widget.taxes is not None
        assert [t.amount for t in widget.taxes] == [500]
        assert [r.display_name for r in widget.tax_rates] == ["VAT"]
        assert isinstance(widget.tax_rates[0], stripe.TaxRate)
        assert (goodwill.type, goodwill.description, goodwill.amount) == (
            "custom_line_item", "Goodwill", 300,
        )  # fmt: skip
        assert goodwill.invoice_line_item is None
        assert client.v1.invoices.retrieve(invoice.id).amount_due == 8700
        with pytest.raises(stripe.InvalidRequestError) as caught:
            create(
                client,
                invoice=invoice.id,
                lines=[{"type": "custom_line_item", "quantity": 1, "unit_amount": 1, "amount": 1}],
            )
        assert caught.value.param == "lines[0][amount]"


class TestVoid:
    def test_voiding_gives_the_credit_back_to_collect(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        note = create(client, invoice=invoice.id, amount=2500)
        seen = len(event_log(client))
        voided = client.v1.credit_notes.void_credit_note(note.id)
        assert (voided.status, voided.amount) == ("void", 2500)
        assert voided.voided_at is not None
        after = client.v1.invoices.retrieve(invoice.id)
        assert (after.amount_due, after.amount_remaining) == (10000, 10000)
        assert after.pre_payment_credit_notes_amount == 0
        [default] = client.v1.invoice_payments.list(params={"invoice": invoice.id}).data
        assert default.amount_requested == 10000
        assert types_after(client, seen) == ["invoice.updated", "credit_note.voided"]
        with pytest.raises(stripe.InvalidRequestError) as again:
            client.v1.credit_notes.void_credit_note(note.id)
        assert again.value.code == "status_transition_invalid"
        again_note = create(client, invoice=invoice.id, amount=10000)  # creditable again
        assert again_note.number == f"{invoice.number}-CN-02"

    def test_only_credit_notes_of_open_invoices_can_be_voided(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice, _ = paid_invoice(emu, client, customer)
        note = create(client, invoice=invoice.id, amount=1000, credit_amount=1000)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.credit_notes.void_credit_note(note.id)
        assert caught.value.code == "status_transition_invalid"
        assert "open" in (caught.value.user_message or "")
        assert client.v1.credit_notes.retrieve(note.id).status == "issued"


class TestQueries:
    def test_list_retrieve_lines_and_update(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        other = client.v1.customers.create(params={"email": "other@example.com"})
        first = open_invoice(client, customer)
        second = open_invoice(client, other)
        line_id = first.lines.data[0].id
        many = create(
            client,
            invoice=first.id,
            lines=[
                {"type": "custom_line_item", "description": f"Line {i}", "unit_amount": 10}
                for i in range(12)
            ],
        )
        create(
            client,
            invoice=first.id,
            lines=[{"type": "invoice_line_item", "invoice_line_item": line_id, "amount": 100}],
        )
        create(client, invoice=second.id, amount=100)
        assert len(client.v1.credit_notes.list().data) == 3
        assert len(client.v1.credit_notes.list(params={"invoice": first.id}).data) == 2
        assert [n.invoice for n in client.v1.credit_notes.list(params={"customer": other.id})] == [
            second.id
        ]
        fetched = client.v1.credit_notes.retrieve(many.id)
        assert (fetched.lines.has_more, len(fetched.lines.data)) == (True, 10)
        assert fetched.lines.url == f"/v1/credit_notes/{many.id}/lines"
        page = client.v1.credit_notes.line_items.list(many.id, params={"limit": 5})
        assert (len(page.data), page.has_more) == (5, True)
        every = client.v1.credit_notes.line_items.list(many.id).auto_paging_iter()
        assert [line.description for line in every] == [f"Line {i}" for i in range(12)]
        updated = client.v1.credit_notes.update(
            many.id, params={"memo": "Re-issued", "metadata": {"k": "v"}}
        )
        assert (updated.memo, updated.to_dict()["metadata"]) == ("Re-issued", {"k": "v"})
        event = client.v1.events.list(params={"type": "credit_note.updated"}).data[0]
        assert event.data.to_dict()["previous_attributes"] == {"memo": None, "metadata": {}}
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.credit_notes.retrieve("cn_missing")
        assert caught.value.code == "resource_missing"

    def test_preview_changes_nothing(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice, _ = paid_invoice(emu, client, customer)
        seen = len(event_log(client))
        params: dict[str, Any] = {
            "invoice": invoice.id,
            "lines": [
                {
                    "type": "invoice_line_item",
                    "invoice_line_item": invoice.lines.data[0].id,
                    "quantity": 2,
                }
            ],
            "refund_amount": 5000,
        }
        preview = client.v1.credit_notes.preview(params=params)  # type: ignore[arg-type]
        assert isinstance(preview, stripe.CreditNote)
        assert (preview.amount, preview.type, preview.post_payment_amount) == (
            5000, "post_payment", 5000,
        )  # fmt: skip
        assert preview.lines.data[0].quantity == 2
        lines = client.v1.credit_notes.preview_lines.list(params=params)  # type: ignore[arg-type]
        assert [line.amount for line in lines.data] == [5000]
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.credit_notes.preview(
                params={**params, "refund_amount": 4000}  # type: ignore[typeddict-item]
            )
        assert client.v1.credit_notes.list().data == []
        assert client.v1.refunds.list().data == []
        assert types_after(client, seen) == []
        assert client.v1.invoices.retrieve(invoice.id).post_payment_credit_notes_amount == 0
