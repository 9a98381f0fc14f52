"""Invoice state changes the connector drives or must notice: void, uncollectible, paid out
of band (in full with `pay`, in part with a PaymentRecord), send, customer e-mail changes,
and the Dashboard helpers of `EmulatorServer`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorError
from stripe_emulator.server import EmulatorServer

N = type(None)
Shape = dict[str, tuple[type, ...]]
CheckShape = Callable[[object, type, Shape], dict[str, Any]]

PAYMENT_RECORD: Shape = {
    "id": (str,), "object": (str,), "amount": (dict,), "amount_authorized": (dict,),
    "amount_canceled": (dict,), "amount_failed": (dict,), "amount_guaranteed": (dict,),
    "amount_refunded": (dict,), "amount_requested": (dict,), "application": (str, N),
    "created": (int,), "customer_details": (dict, N), "customer_presence": (str, N),
    "description": (str, N), "latest_payment_attempt_record": (str, N), "livemode": (bool,),
    "metadata": (dict,), "payment_method_details": (dict, N), "processor_details": (dict,),
    "reported_by": (str,), "shipping_details": (dict, N),
}  # fmt: skip


@pytest.fixture
def customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create(params={"email": "state@example.com", "name": "State"})


def open_invoice(
    client: stripe.StripeClient, customer: stripe.Customer, amount: int = 10000, **extra: Any
) -> stripe.Invoice:
    params: dict[str, Any] = {"customer": customer.id, "currency": "usd", **extra}
    invoice = client.v1.invoices.create(params=params)  # type: ignore[arg-type]
    client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": amount}]})
    return client.v1.invoices.finalize_invoice(invoice.id)


def last_event(client: stripe.StripeClient, event_type: str) -> stripe.Event:
    events = client.v1.events.list(params={"type": event_type}).data
    assert events, f"no {event_type} event"
    return events[0]


def report_payment(
    client: stripe.StripeClient, amount: int, outcome: str = "guaranteed", reference: str = "B-1"
) -> stripe.PaymentRecord:
    params: dict[str, Any] = {
        "amount_requested": {"currency": "usd", "value": amount},
        "initiated_at": 1_800_000_000,
        "outcome": outcome,
        outcome: {f"{outcome}_at": 1_800_000_060},
        "payment_method_details": {"type": "custom", "custom": {"display_name": "Bank transfer"}},
        "processor_details": {"type": "custom", "custom": {"payment_reference": reference}},
    }
    return client.v1.payment_records.report_payment(params=params)  # type: ignore[arg-type]


class TestVoidAndUncollectible:
    def test_void_through_the_api_and_the_dashboard(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        voided = client.v1.invoices.void_invoice(open_invoice(client, customer).id)
        assert voided.status == "void"
        assert last_event(client, "invoice.voided").data.object["id"] == voided.id
        other = open_invoice(client, customer)
        emu.clear_requests()
        shown = emu.void_invoice(other.id)
        assert (shown["id"], shown["status"]) == (other.id, "void")
        event = last_event(client, "invoice.voided")
        assert event.data.object["id"] == other.id
        assert event.request is not None
        assert event.request.id is not None
        assert [r["path"] for r in emu.requests(method="POST")] == [f"/v1/invoices/{other.id}/void"]
        with pytest.raises(EmulatorError) as caught:  # a void invoice stays void
            emu.void_invoice(other.id)
        assert caught.value.status == 400
        assert caught.value.body["error"]["code"] == "status_transition_invalid"

    def test_mark_uncollectible_then_paid_out_of_band(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        shown = emu.mark_uncollectible(invoice.id)
        assert shown["status"] == "uncollectible"
        assert shown["status_transitions"]["marked_uncollectible_at"] is not None
        assert last_event(client, "invoice.marked_uncollectible").data.object["id"] == invoice.id
        paid = client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
        assert (paid.status, paid.amount_paid) == ("paid", 10000)
        with pytest.raises(EmulatorError):  # only open invoices can be written off
            emu.mark_uncollectible(invoice.id)


class TestPaidOutOfBand:
    def test_pay_out_of_band_settles_everything_without_a_charge(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        paid = client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
        assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 10000, 0)
        assert client.v1.charges.list().data == []
        [default] = client.v1.invoice_payments.list(params={"invoice": invoice.id}).data
        assert default.status == "canceled"
        event = last_event(client, "invoice.paid")
        assert event.data.object["id"] == invoice.id
        # Includable, and "isn't available in event payloads" (changelog dahlia 2026-05-27).
        assert "amount_paid_off_stripe" not in event.data.object
        assert "amount_paid_off_stripe" not in paid
        expanded = client.v1.invoices.retrieve(
            invoice.id, params={"expand": ["amount_paid_off_stripe"]}
        )
        assert expanded.amount_paid_off_stripe == 10000

    def test_pay_takes_no_amount(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        """`InvoicePayParams` (16.1.0) has no `amount`: `pay` cannot settle part of an
        invoice out of band."""
        invoice = open_invoice(client, customer)
        params: dict[str, Any] = {"paid_out_of_band": True, "amount": 100}
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.invoices.pay(invoice.id, params=params)  # type: ignore[arg-type]
        assert (caught.value.code, caught.value.param) == ("parameter_unknown", "amount")

    def test_a_payment_record_pays_part_of_an_invoice_out_of_band(
        self, client: stripe.StripeClient, customer: stripe.Customer, assert_shape: CheckShape
    ) -> None:
        invoice = open_invoice(client, customer)
        record = report_payment(client, 4000)
        data = assert_shape(record, stripe.PaymentRecord, PAYMENT_RECORD)
        assert record.id.startswith("pr_")
        assert data["amount_guaranteed"] == {"currency": "usd", "value": 4000}
        assert data["processor_details"] == {
            "type": "custom",
            "custom": {"payment_reference": "B-1"},
        }
        assert client.v1.payment_records.retrieve(record.id).id == record.id
        after = client.v1.invoices.attach_payment(
            invoice.id,
            params={"payment_record": record.id, "expand": ["payments", "amount_paid_off_stripe"]},
        )
        assert (after.status, after.amount_paid, after.amount_remaining) == ("open", 4000, 6000)
        assert after.amount_paid_off_stripe == 4000
        assert after.payments is not None
        by_record = [p for p in after.payments.data if p.payment.type == "payment_record"]
        assert [(p.payment.payment_record, p.amount_paid, p.status) for p in by_record] == [
            (record.id, 4000, "paid")
        ]
        found = client.v1.invoice_payments.list(
            params={"payment": {"type": "payment_record", "payment_record": record.id}}
        ).data
        assert [p.invoice for p in found] == [invoice.id]
        default = next(p for p in after.payments.data if p.is_default)
        assert (default.status, default.amount_requested) == ("open", 6000)
        assert last_event(client, "invoice_payment.paid").data.object["invoice"] == invoice.id
        assert client.v1.charges.list().data == []
        rest = client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
        assert (rest.status, rest.amount_paid) == ("paid", 10000)
        total = client.v1.invoices.retrieve(
            invoice.id, params={"expand": ["amount_paid_off_stripe"]}
        )
        assert total.amount_paid_off_stripe == 10000

    def test_payment_record_rules(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(client, customer)
        pending = report_payment(client, 1000, outcome="failed")
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.invoices.attach_payment(invoice.id, params={"payment_record": pending.id})
        assert caught.value.param == "payment_record"
        record = report_payment(client, 1000)
        client.v1.invoices.attach_payment(invoice.id, params={"payment_record": record.id})
        with pytest.raises(stripe.InvalidRequestError) as twice:
            client.v1.invoices.attach_payment(invoice.id, params={"payment_record": record.id})
        assert twice.value.code == "resource_already_exists"
        with pytest.raises(stripe.InvalidRequestError):  # one of the two, not both
            client.v1.invoices.attach_payment(
                invoice.id, params={"payment_record": record.id, "payment_intent": "pi_x"}
            )
        with pytest.raises(stripe.InvalidRequestError) as missing:
            client.v1.payment_records.report_payment(
                params={"amount_requested": {"currency": "usd", "value": 1}}  # type: ignore[typeddict-item]
            )
        assert missing.value.code == "parameter_missing"
        paid = client.v1.invoices.attach_payment(
            invoice.id, params={"payment_record": report_payment(client, 9000, reference="B-2").id}
        )
        assert paid.status == "paid"
        with pytest.raises(stripe.InvalidRequestError):  # nothing left to pay
            client.v1.invoices.attach_payment(
                invoice.id, params={"payment_record": report_payment(client, 10).id}
            )


class TestSend:
    def test_send_invoice_fires_invoice_sent(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        invoice = open_invoice(
            client, customer, collection_method="send_invoice", days_until_due=30
        )
        sent = client.v1.invoices.send_invoice(invoice.id)
        assert sent.status == "open"
        assert last_event(client, "invoice.sent").data.object["id"] == invoice.id
        client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
        client.v1.invoices.send_invoice(invoice.id)  # a paid invoice can be sent again
        assert len(client.v1.events.list(params={"type": "invoice.sent"}).data) == 2

    def test_send_is_refused_for_charge_automatically_and_drafts(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        automatic = open_invoice(client, customer)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.invoices.send_invoice(automatic.id)
        assert caught.value.code == "status_transition_invalid"
        assert "send_invoice" in (caught.value.user_message or "")
        draft = client.v1.invoices.create(
            params={
                "customer": customer.id,
                "collection_method": "send_invoice",
                "days_until_due": 30,
            }
        )
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.invoices.send_invoice(draft.id)
        assert client.v1.events.list(params={"type": "invoice.sent"}).data == []


class TestCustomerChanges:
    def test_an_email_change_is_a_customer_updated_event(
        self, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        client.v1.customers.update(customer.id, params={"email": "new@example.com"})
        event = last_event(client, "customer.updated")
        assert event.data.object["email"] == "new@example.com"
        assert event.data.to_dict()["previous_attributes"] == {"email": "state@example.com"}
        client.v1.customers.update(customer.id, params={"email": "new@example.com"})
        assert len(client.v1.events.list(params={"type": "customer.updated"}).data) == 1

    def test_the_dashboard_edit_and_the_invoice_snapshots(
        self, emu: EmulatorServer, client: stripe.StripeClient, customer: stripe.Customer
    ) -> None:
        finalized = open_invoice(client, customer)
        draft = client.v1.invoices.create(params={"customer": customer.id})
        shown = emu.update_customer(
            customer.id,
            email="dash@example.com",
            metadata={"bc_customer_no": "C0001"},
            address={"city": "Oslo", "country": "NO"},
        )
        assert (shown["email"], shown["metadata"]) == (
            "dash@example.com",
            {"bc_customer_no": "C0001"},
        )
        assert shown["address"]["city"] == "Oslo"
        event = last_event(client, "customer.updated")
        previous = event.data.to_dict()["previous_attributes"]
        assert previous["email"] == "state@example.com"
        assert previous["metadata"] == {}
        # Until finalization the invoice's customer fields "equal customer.email".
        assert client.v1.invoices.retrieve(draft.id).customer_email == "dash@example.com"
        assert client.v1.invoices.retrieve(finalized.id).customer_email == "state@example.com"
        with pytest.raises(EmulatorError) as caught:
            emu.update_customer(customer.id, invoice_prefix="lower")
        assert caught.value.body["error"]["param"] == "invoice_prefix"

    def test_dashboard_helpers_use_a_configured_key(
        self, emu: EmulatorServer, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        emu.configure(api_keys=["sk_test_only_this"])
        client = make_client("sk_test_only_this")
        customer = client.v1.customers.create(params={"email": "a@example.com"})
        assert emu.update_customer(customer.id, name="Renamed")["name"] == "Renamed"
