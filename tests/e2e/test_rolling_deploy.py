"""Checklist case 11: every service is replaced while payments flow; nothing is lost or doubled.

A rolling deploy on one machine: each web service's gunicorn master gets SIGHUP, which starts
new workers on the new code and config and lets the old ones finish their requests (what a
Kubernetes rolling update does with a second pod and readiness gates); the consumer is replaced
by starting its successor and then sending the old one SIGTERM, which stops taking messages and
finishes the ones in hand. Payments keep arriving throughout. Pass: every payment is in BC
once, no record failed, and Stripe never saw a 5xx or a refused connection from the gateway.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest
from e2e_helpers import consumer_heartbeat
from e2e_helpers import new_customer
from e2e_helpers import post_invoice
from e2e_helpers import pushed
from e2e_helpers import start_consumer
from e2e_helpers import wait_posted
from e2e_helpers import wait_record
from factories import wait_until

from mlc_local.processes import get_json
from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

PAYMENTS = 16


def _ready(stack: LocalStack, name: str) -> bool:
    try:
        return get_json(stack.url(name) + "/readyz", timeout=3)[0] == 200
    except OSError:
        return False


def _reload(stack: LocalStack, name: str) -> None:
    """gunicorn's graceful reload: new workers first, old ones finish what they hold."""
    stack.processes[name].popen.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert wait_until(lambda: _ready(stack, name), timeout_s=30), stack.processes[name].tail()


def _replace_consumer(stack: LocalStack, old: str, new: str) -> None:
    stack.processes[new] = start_consumer(stack, new)
    heartbeat = consumer_heartbeat(stack, new)
    assert wait_until(heartbeat.exists, timeout_s=30), stack.processes[new].tail()
    assert stack.processes.pop(old).stop() == 0


def test_a_rolling_deploy_under_load_loses_and_doubles_nothing(
    stack: LocalStack, connector: Connector
) -> None:
    invoices = [
        post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": 30 + n})
        for n in range(PAYMENTS)
    ]
    records = [pushed(connector, invoice) for invoice in invoices]
    charges: list[str] = []
    errors: list[BaseException] = []

    def pay_steadily() -> None:
        try:
            for record in records:
                charges.append(connector.pay(record["stripe_ref"])["charge"]["id"])
                time.sleep(0.4)
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    payer = threading.Thread(target=pay_steadily)
    payer.start()
    try:
        # One service after another, spread over the payments, as a rollout proceeds.
        for name in ("stripe-gateway", "bc-gateway", "reconciler"):
            time.sleep(1.0)
            _reload(stack, name)
        time.sleep(1.0)
        _replace_consumer(stack, "consumer-1", "consumer-2")
    finally:
        payer.join(timeout=120)
    assert not errors, errors
    assert len(charges) == PAYMENTS

    for charge, invoice in zip(charges, invoices, strict=True):
        payment = wait_record(connector, timeout=90, kind="payment", stripe_ref=charge)
        assert payment["state"] == "succeeded", payment
        [line] = wait_posted(stack, charge)
        assert line["appliesToInvoiceId"] == invoice["id"]
    attempts: list[dict[str, Any]] = [
        attempt
        for delivery in stack.stripe.admin("GET", "deliveries")["deliveries"]
        for attempt in delivery["attempts"]
    ]
    refused = [a for a in attempts if a.get("error") or a.get("response_status", 200) >= 500]
    assert refused == [], refused
