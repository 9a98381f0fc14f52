"""The connector's flows end to end: BC and Stripe emulators, gateways, bus, reconciler.

Every hop is a real socket: the emulators send real webhooks to the gateways under gunicorn,
the gateways publish to RabbitMQ with confirms, the reconciler consumes, writes PostgreSQL and
calls the gateways' command APIs, which call the emulators. Each test works on its own BC
customer, so tests share one stack without seeing each other's records.
"""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa
from e2e_helpers import bc_invoice
from e2e_helpers import new_customer
from e2e_helpers import post_invoice
from e2e_helpers import pushed
from e2e_helpers import stripe_object
from e2e_helpers import wait_posted
from e2e_helpers import wait_record
from factories import random_ref
from factories import wait_until

from mlc_local.processes import run_cli
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlconnector.bus import Publisher
from mlconnector.bus import Topology
from mlconnector.contracts import Envelope
from mlconnector.contracts import load_message
from mlconnector.money import from_minor
from mlconnector.money import to_minor

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


class TestOutboundInvoice:
    def test_posted_invoice_becomes_a_finalized_stripe_invoice_with_the_same_total(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        customer = new_customer(stack)
        invoice = post_invoice(
            stack,
            customer,
            {"description": "Advisory", "quantity": 3, "unitPrice": "185.00", "taxPercent": "8.25"},
            {"description": "Travel", "quantity": 1, "unitPrice": "412.37"},
            discountAmount="25.00",
        )
        record = pushed(connector, invoice)
        stripe_invoice = stripe_object(stack, "invoice", record["stripe_ref"])
        total = to_minor(Decimal(str(invoice["totalAmountIncludingTax"])), "USD")
        assert stripe_invoice["status"] == "open"
        assert stripe_invoice["total"] == total == record["amount_minor"]
        assert stripe_invoice["metadata"]["bc_invoice_id"] == invoice["id"]
        assert stripe_invoice["metadata"]["bc_invoice_number"] == invoice["number"]
        assert stripe_invoice["metadata"]["bc_customer_number"] == customer
        assert stripe_invoice["metadata"]["bc_company_id"] == stack.company_id
        customer_obj = stripe_object(stack, "customer", stripe_invoice["customer"])
        assert customer_obj["metadata"]["bc_customer_number"] == customer

    def test_jpy_and_kwd_invoices_carry_exact_amounts(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        jpy = post_invoice(stack, new_customer(stack, "JPY"), {"quantity": 3, "unitPrice": "48500"})
        kwd = post_invoice(
            stack, new_customer(stack, "KWD"), {"quantity": 1, "unitPrice": "1240.250"}
        )
        for invoice, currency, minor in ((jpy, "jpy", 145500), (kwd, "kwd", 1240250)):
            record = pushed(connector, invoice)
            stripe_invoice = stripe_object(stack, "invoice", record["stripe_ref"])
            assert (stripe_invoice["currency"], stripe_invoice["total"]) == (currency, minor)

    def test_an_invoice_missed_by_webhooks_is_backfilled_by_the_poll(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        stack.bc_admin("PATCH", "/config", {"notification_delay_seconds": 3600})
        try:
            invoice = post_invoice(
                stack, new_customer(stack), {"quantity": 1, "unitPrice": "99.00"}
            )
            time.sleep(2)
            assert not connector.records(kind="invoice", bc_ref=str(invoice["id"]))
            run_cli(["bc-gateway", "poll-invoices", "--since-minutes", "10"], stack.env)
            record = pushed(connector, invoice)
        finally:
            stack.bc_admin("PATCH", "/config", {"notification_delay_seconds": 0.05})
            # The held-back batch is due in an hour: send it now so later tests are not stuck
            # behind it (its duplicate of the polled invoice is a no-op downstream).
            stack.bc_admin("POST", "/notifications/flush")
        assert record["stripe_ref"].startswith("in_")


class TestInboundPayment:
    def test_card_payment_posts_one_negative_line_applied_to_the_invoice(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 2, "unitPrice": "150.00"})
        record = pushed(connector, invoice)
        paid = connector.pay(record["stripe_ref"])
        charge = paid["charge"]["id"]
        payment = wait_record(connector, kind="payment", stripe_ref=charge)
        assert payment["state"] == "succeeded", payment
        lines = wait_posted(stack, charge)
        assert len(lines) == 1
        assert Decimal(str(lines[0]["amount"])) == Decimal("-300.00")
        assert lines[0]["appliesToInvoiceId"] == invoice["id"]
        after = bc_invoice(stack, str(invoice["id"]))
        assert (after["status"], Decimal(str(after["remainingAmount"]))) == ("Paid", 0)

    def test_partial_payment_posts_what_was_paid(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "1000.00"})
        record = pushed(connector, invoice)
        charge = connector.pay(record["stripe_ref"], amount=40000)["charge"]["id"]
        assert wait_record(connector, kind="payment", stripe_ref=charge)["state"] == "succeeded"
        assert [Decimal(str(x["amount"])) for x in wait_posted(stack, charge)] == [
            Decimal("-400.00")
        ]
        after = bc_invoice(stack, str(invoice["id"]))
        assert (after["status"], Decimal(str(after["remainingAmount"]))) == ("Open", Decimal("600"))

    def test_jpy_and_kwd_payments_are_exact(self, stack: LocalStack, connector: Connector) -> None:
        for currency, price, minor in (("JPY", "12345", 12345), ("KWD", "25.120", 25120)):
            invoice = post_invoice(
                stack, new_customer(stack, currency), {"quantity": 1, "unitPrice": price}
            )
            record = pushed(connector, invoice)
            charge = connector.pay(record["stripe_ref"])["charge"]["id"]
            assert wait_record(connector, kind="payment", stripe_ref=charge)["state"] == "succeeded"
            [line] = wait_posted(stack, charge)
            assert Decimal(str(line["amount"])) == -from_minor(minor, currency)

    def test_duplicated_and_shuffled_webhooks_post_each_payment_once(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        stack.stripe.configure(duplicate_rate=1.0, shuffle=True)
        try:
            invoices = [
                post_invoice(
                    stack, new_customer(stack), {"quantity": 1, "unitPrice": f"{100 + i}.00"}
                )
                for i in range(3)
            ]
            records = [pushed(connector, invoice) for invoice in invoices]
            charges = [connector.pay(r["stripe_ref"])["charge"]["id"] for r in records]
            # And a third copy of every event, resent by Stripe.
            ours = set(charges) | {r["stripe_ref"] for r in records}
            for event in stack.stripe.admin("GET", "objects/event")["data"]:
                if event["data"]["object"]["id"] in ours and event["type"] in (
                    "invoice.paid",
                    "charge.succeeded",
                ):
                    stack.stripe.admin("POST", f"events/{event['id']}/resend")
            for charge in charges:
                assert (
                    wait_record(connector, kind="payment", stripe_ref=charge)["state"]
                    == "succeeded"
                )
            stack.stripe.flush_deliveries()
            time.sleep(1.5)
        finally:
            stack.stripe.configure(duplicate_rate=0.0, shuffle=False)
        for charge in charges:
            assert len(wait_posted(stack, charge)) == 1
            assert len(connector.records(kind="payment", stripe_ref=charge)) == 1

    def test_events_for_a_payment_already_in_bc_cost_no_stripe_or_bc_call(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "42.00"})
        record = pushed(connector, invoice)
        stripe_invoice = record["stripe_ref"]
        charge = connector.pay(stripe_invoice)["charge"]["id"]
        payment = wait_record(connector, kind="payment", stripe_ref=charge)
        assert payment["state"] == "succeeded", payment
        stack.stripe.flush_deliveries()
        wait_until(lambda: len(_events_about(stack, stripe_invoice, charge)) == 2, timeout_s=30)
        steps_before = len(connector.record(payment["id"])["audit"])
        reads_before = stack.stripe.request_count(method="GET")["total"]
        bc_before = int(stack.bc_admin("GET", "/stats")["apiRequests"])

        # Both events again, as new messages (a resend under the same event id would stop at
        # the inbox): what a late webhook or a poll's backfill looks like to the reconciler.
        again = [
            dataclasses.replace(event, id=random_ref("again"))
            for event in _events_about(stack, stripe_invoice, charge)
        ]
        publisher = Publisher(stack.env["MLC_AMQP_URL"], exchange=_topology(stack).exchange)
        try:
            for envelope in again:
                publisher.publish(envelope.routing_key, envelope.to_json(), message_id=envelope.id)
        finally:
            publisher.close()

        def told() -> bool:
            return len(connector.record(payment["id"])["audit"]) >= steps_before + 4

        connector.wait_for("both events in the payment's story", told, timeout=30)
        summaries = [step["summary"] for step in connector.record(payment["id"])["audit"]]
        assert any("already cover its total" in text for text in summaries), summaries
        assert any("nothing more to do" in text for text in summaries), summaries
        assert stack.stripe.request_count(method="GET")["total"] == reads_before
        assert int(stack.bc_admin("GET", "/stats")["apiRequests"]) == bc_before
        assert len(wait_posted(stack, charge)) == 1

    def test_a_payment_webhook_that_never_arrives_is_backfilled_by_the_poll(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "77.00"})
        record = pushed(connector, invoice)
        stack.stripe.configure(drop_rate=1.0)
        try:
            charge = connector.pay(record["stripe_ref"])["charge"]["id"]
            time.sleep(2)
            assert not connector.records(kind="payment", stripe_ref=charge)
        finally:
            stack.stripe.configure(drop_rate=0.0)
        run_cli(["stripe-gateway", "poll", "--since-minutes", "10"], stack.env)
        assert wait_record(connector, kind="payment", stripe_ref=charge)["state"] == "succeeded"
        assert len(wait_posted(stack, charge)) == 1

    def test_a_bc_outage_during_a_payment_is_retried_until_it_succeeds(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "55.00"})
        record = pushed(connector, invoice)
        stack.bc_admin("POST", "/faults", {"status": 503, "seconds": 3, "target": "api"})
        charge = connector.pay(record["stripe_ref"])["charge"]["id"]
        payment = wait_record(connector, kind="payment", stripe_ref=charge, timeout=90)
        assert payment["state"] == "succeeded", payment
        story = connector.record(payment["id"])
        assert any(step["action"] == "retried" for step in story["audit"])
        assert len(wait_posted(stack, charge)) == 1

    def test_a_payment_bc_refuses_fails_is_parked_and_replays_once_after_the_fix(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "66.00"})
        record = pushed(connector, invoice)
        refusal = {
            "status": 400,
            "code": "Application_DialogException",
            "message": "The journal line is blocked for posting.",
            "seconds": 600,
            "target": "api",
        }
        stack.bc_admin("POST", "/faults", refusal)
        try:
            charge = connector.pay(record["stripe_ref"])["charge"]["id"]
            failed = wait_record(connector, kind="payment", stripe_ref=charge, timeout=60)
            # A refusal is the message's own failure: it fails the record at once.
            assert failed["state"] == "failed", failed
            # ...and its message, parked in the dead-letter queue, is tied to the record.
            connector.wait_for(
                "the dead letter on the record",
                lambda: (
                    "dead-lettered"
                    in {s["action"] for s in connector.record(failed["id"])["audit"]}
                ),
                timeout=30,
            )
            parked = connector.record(failed["id"])["dead_letters"]
            assert parked, "the parked message is shown with the record"
            assert {d["reason"] for d in parked} == {"rejected"}
            assert all(d["message_type"].startswith("stripe.event.") for d in parked)
        finally:
            stack.bc_admin("DELETE", "/faults")
        connector.replay(failed["id"], actor="clerk@firm.example", reason="BC is fixed")
        connector.wait_for(
            "replayed payment",
            lambda: connector.record(failed["id"])["record"]["state"] == "succeeded",
            timeout=60,
        )
        assert len(wait_posted(stack, charge)) == 1
        story = connector.record(failed["id"])
        replayed = [s for s in story["audit"] if s["action"] == "replayed"]
        assert replayed
        assert replayed[0]["actor"] == "clerk@firm.example"

    def test_a_bc_outage_longer_than_the_retry_budget_is_waited_out(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        """Checklist case 9, time-compressed: the outage lasts far longer than the four retries
        a failing message gets (about 15 s of backoff here), and nothing fails or is parked."""
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "67.00"})
        record = pushed(connector, invoice)
        outage_s = 25
        stack.bc_admin("POST", "/faults", {"status": 503, "seconds": outage_s, "target": "api"})
        charge = connector.pay(record["stripe_ref"])["charge"]["id"]

        def waiting_out() -> bool:
            rows = connector.records(kind="payment", stripe_ref=charge)
            if not rows:
                return False
            steps = connector.record(rows[0]["id"])["audit"]
            return any("waiting out" in s["summary"] for s in steps)

        connector.wait_for("the payment waiting out the outage", waiting_out, timeout=30)
        payment = wait_record(connector, kind="payment", stripe_ref=charge, timeout=outage_s + 90)
        assert payment["state"] == "succeeded", payment
        assert len(wait_posted(stack, charge)) == 1
        actions = {s["action"] for s in connector.record(payment["id"])["audit"]}
        assert not {"failed", "dead-lettered"} & actions, actions


def _topology(stack: LocalStack) -> Topology:
    return Topology.isolated(stack.env["MLC_BUS_NAMESPACE"])


def _events_about(stack: LocalStack, stripe_invoice: str, charge: str) -> list[Envelope]:
    """The invoice.paid and charge.succeeded messages the reconciler received for a payment."""
    engine = sa.create_engine(stack.env["MLC_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT payload FROM inbox WHERE message_type IN "
                    "('stripe.event.invoice.paid', 'stripe.event.charge.succeeded')"
                )
            ).all()
    finally:
        engine.dispose()
    events = [load_message(row[0]) for row in rows]
    return [e for e in events if e.data.get("object_id") in (stripe_invoice, charge)]


class TestReplayOfASettledPayment:
    def test_fifty_replays_in_a_row_leave_it_succeeded_with_one_bc_line(
        self, stack: LocalStack, connector: Connector
    ) -> None:
        """Issue 11, finding 2: the record was marked pending after the publish, so a quick
        handler could finish first and leave it pending for ever."""
        invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "42.00"})
        record = pushed(connector, invoice)
        charge = connector.pay(record["stripe_ref"])["charge"]["id"]
        payment = wait_record(connector, kind="payment", stripe_ref=charge)
        assert payment["state"] == "succeeded"
        for attempt in range(50):
            connector.replay(payment["id"], actor="clerk@firm.example", reason=f"check {attempt}")
            connector.wait_for(
                f"replay {attempt} handled",
                lambda: connector.record(payment["id"])["record"]["state"] != "pending",
                timeout=30,
            )
            assert connector.record(payment["id"])["record"]["state"] == "succeeded"
        time.sleep(1)  # nothing handled late may change it
        assert connector.record(payment["id"])["record"]["state"] == "succeeded"
        assert len(wait_posted(stack, charge)) == 1
        replays = [s for s in connector.record(payment["id"])["audit"] if s["action"] == "replayed"]
        assert len(replays) == 50
