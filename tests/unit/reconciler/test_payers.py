"""Who paid an unmatched payment: kept on its record, bounded, and found by the queue's search.

``payer_of`` is pure. The handlers run on a migrated SQLite database with the stripe-gateway
port answering from a small fake, as in ``test_push_recovery``; the search over what they kept
runs on both databases in ``tests/integration/db/test_console_search.py``.
"""

from __future__ import annotations

import datetime as dt
import types
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from mlconnector.contracts import Envelope
from reconciler.console.queue_data import QueueFilter
from reconciler.console.queue_data import queue_page
from reconciler.handlers.payments import on_charge_succeeded
from reconciler.handlers.payments import post_invoice_payments
from reconciler.models import CustomerLink
from reconciler.models import RecordState
from reconciler.models import SyncRecord
from reconciler.payers import payer_of
from reconciler.unit import Unit

T0 = dt.datetime(2026, 12, 8, 10, 0, 0, tzinfo=dt.UTC)


class TestPayerOf:
    def test_the_billing_details_say_who_paid_in_search_form(self) -> None:
        charge = {
            "customer": "cus_1",
            "receipt_email": "receipts@elsewhere.example",
            "billing_details": {"email": "AP@Fabrikam.com", "name": "  Jane   DOE "},
        }

        assert payer_of(charge) == {
            "customer": "cus_1",
            "email": "ap@fabrikam.com",
            "name": "jane doe",
        }

    def test_the_receipt_email_and_the_invoices_customer_stand_in(self) -> None:
        charge = {"receipt_email": "Bob@Walk-In.example", "billing_details": {"email": None}}
        invoice = {"customer": "cus_2", "customer_name": "Walk-in Customer"}

        assert payer_of(charge, invoice) == {
            "customer": "cus_2",
            "email": "bob@walk-in.example",
            "name": "walk-in customer",
        }

    def test_an_embedded_customer_is_named_by_its_id(self) -> None:
        assert payer_of({"customer": {"id": "cus_3", "object": "customer"}}) == {
            "customer": "cus_3"
        }

    @pytest.mark.parametrize("charge", [None, {}, {"billing_details": None, "customer": ""}])
    def test_a_charge_without_payer_details_adds_nothing(self, charge: Any) -> None:
        assert payer_of(charge) == {}

    def test_each_fact_is_bounded(self) -> None:
        charge = {
            "customer": "cus_" + "x" * 400,
            "billing_details": {"email": "a" * 400 + "@x.example", "name": "N" * 400},
        }

        payer = payer_of(charge)

        assert (len(payer["customer"]), len(payer["email"]), len(payer["name"])) == (
            255,
            CustomerLink.EMAIL_LENGTH,
            CustomerLink.NAME_LENGTH,
        )


class FakeStripeGateway:
    """The stripe-gateway's charge read, answering with the charge a test says Stripe holds."""

    def __init__(self, charge: dict[str, Any]) -> None:
        self.charge = charge

    def get_charge(self, charge_id: str) -> dict[str, Any]:
        assert charge_id == self.charge["id"]
        return dict(self.charge)


def _charge(charge_id: str, **fields: Any) -> dict[str, Any]:
    """A succeeded charge as the stripe-gateway reads it, naming no BC invoice."""
    charge: dict[str, Any] = {
        "id": charge_id,
        "status": "succeeded",
        "amount": 64025,
        "currency": "kwd",
        "metadata": {},
        "invoice": None,
        "invoice_payment": None,
        "customer": None,
        "receipt_email": None,
        "billing_details": {},
    }
    charge.update(fields)
    return charge


def _unit(sessions: sessionmaker[Session], charge: dict[str, Any], event_type: str) -> Unit:
    obj_type = "charge" if event_type.startswith("charge") else "invoice"
    envelope = Envelope(
        id=f"evt_{event_type.replace('.', '_')}_{charge['id']}",
        type=f"stripe.event.{event_type}",
        source="stripe",
        occurred_at=T0,
        received_at=T0,
        correlation_id="corr-1",
        data={
            "event_id": "evt_1",
            "event_type": event_type,
            "api_version": None,
            "livemode": False,
            "object_type": obj_type,
            "object_id": charge["id"],
            "created": int(T0.timestamp()),
            # No PaymentIntent: the handler reads the charge itself.
            "object": {"id": charge["id"], "object": obj_type},
        },
    )
    deps = types.SimpleNamespace(stripe=FakeStripeGateway(charge))
    return Unit(sessions, envelope, actor="test", deps=deps)


def _payment(sessions: sessionmaker[Session], charge_id: str) -> SyncRecord:
    with sessions() as session:
        record = session.scalars(select(SyncRecord).where(SyncRecord.stripe_ref == charge_id)).one()
        session.expunge(record)
        return record


def _found(sessions: sessionmaker[Session], q: str) -> list[str | None]:
    with sessions() as session:
        return [r.stripe_ref for r in queue_page(session, QueueFilter(q=q)).rows]


class TestUnmatchedPaymentsKeepTheirPayer:
    def test_a_charge_naming_no_bc_invoice_keeps_its_payer_for_the_search(
        self, sessions: sessionmaker[Session]
    ) -> None:
        charge = _charge(
            "ch_1",
            customer="cus_walkin",
            billing_details={"email": "AP@Gulf-Trading.example", "name": "Gulf Trading"},
        )

        on_charge_succeeded(_unit(sessions, charge, "charge.succeeded"))

        record = _payment(sessions, "ch_1")
        assert record.state is RecordState.UNMATCHED
        assert record.flags["payer"] == {
            "customer": "cus_walkin",
            "email": "ap@gulf-trading.example",
            "name": "gulf trading",
        }
        assert _found(sessions, "ap@GULF-trading.example") == ["ch_1"]
        assert _found(sessions, "Gulf Trading") == ["ch_1"]
        assert _found(sessions, "cus_walkin") == ["ch_1"]

    def test_a_payment_of_a_stripe_invoice_the_connector_did_not_raise_keeps_its_payer(
        self, sessions: sessionmaker[Session]
    ) -> None:
        charge = _charge("ch_2", receipt_email="Bob@Walk-In.example")
        invoice = {
            "id": "in_foreign",
            "number": "ABCD-0001",
            "currency": "kwd",
            "customer": "cus_bob",
            "metadata": {},
            "payments": [
                {"id": "inpay_1", "status": "paid", "amount_paid": 64025, "charge": "ch_2"}
            ],
        }

        post_invoice_payments(_unit(sessions, charge, "invoice.paid"), invoice)

        record = _payment(sessions, "ch_2")
        assert record.state is RecordState.UNMATCHED
        assert record.flags["payer"] == {"customer": "cus_bob", "email": "bob@walk-in.example"}
        assert _found(sessions, "bob@walk-in.example") == ["ch_2"]

    def test_a_charge_without_payer_details_keeps_no_payer(
        self, sessions: sessionmaker[Session]
    ) -> None:
        on_charge_succeeded(_unit(sessions, _charge("ch_3"), "charge.succeeded"))

        record = _payment(sessions, "ch_3")
        assert record.state is RecordState.UNMATCHED
        assert "payer" not in record.flags
