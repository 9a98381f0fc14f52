"""What one invoice and one payment cost in API calls, on the real stack (issue 15).

BC's budget is 6,000 requests per 5 minutes for the app, shared with everything else the firm
connects (bc-api.md §8), so the hot path is counted call by call: a pushed invoice for a known,
unchanged customer is three Stripe calls and one BC read; a card payment for it is one BC write
(plus its share of a batch post and its check, here whole since it is alone) and at most two
Stripe reads, however its two events interleave.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_helpers import new_customer
from e2e_helpers import post_invoice
from e2e_helpers import pushed
from e2e_helpers import wait_posted
from e2e_helpers import wait_record

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


class Calls:
    """API requests both emulators answered since ``start`` (control calls not counted)."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.bc_base = 0

    def _bc(self) -> int:
        return int(self.stack.bc_admin("GET", "/stats")["apiRequests"])

    def start(self) -> None:
        self.settle()
        self.stack.stripe.clear_requests()
        self.bc_base = self._bc()

    def read(self) -> tuple[dict[str, Any], int]:
        """(Stripe's counts by route, the BC request count) once the stack has gone quiet."""
        self.settle()
        return self.stack.stripe.request_count(), self._bc() - self.bc_base

    def settle(self, quiet_s: float = 1.5, timeout_s: float = 30.0) -> None:
        """Wait until neither emulator has answered anything new for ``quiet_s``."""
        deadline = time.monotonic() + timeout_s
        last = (-1, -1)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            now = (int(self.stack.stripe.request_count()["total"]), self._bc())
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                return
            time.sleep(0.1)
        raise AssertionError(f"the stack did not go quiet within {timeout_s}s")


def test_an_invoice_and_its_payment_cost_the_minimum_of_calls(
    stack: LocalStack, connector: Connector
) -> None:
    calls = Calls(stack)
    customer = new_customer(stack)
    # Warm-up: links the customer and creates the payment batch (one-off calls).
    warm = pushed(connector, post_invoice(stack, customer, {"quantity": 1, "unitPrice": 5}))
    warm_charge = connector.pay(warm["stripe_ref"])["charge"]["id"]
    wait_posted(stack, warm_charge)

    calls.start()
    invoice = post_invoice(stack, customer, {"quantity": 3, "unitPrice": 40})
    record = pushed(connector, invoice)
    stripe, bc = calls.read()
    assert stripe["total"] == 3, stripe["by_route"]  # create, add lines, finalize
    assert bc == 1  # the invoice with its lines and customer

    calls.start()
    charge = connector.pay(record["stripe_ref"])["charge"]["id"]
    wait_posted(stack, charge)
    payment = wait_record(connector, kind="payment", stripe_ref=charge)
    assert payment["state"] == "succeeded", payment
    stripe, bc = calls.read()
    assert stripe["total"] <= 2, stripe["by_route"]
    # The line's write; then the batch post that carried it alone: one read holding it against
    # BC's open amount, and the post.
    assert bc == 3
    story = connector.record(int(payment["id"]))["audit"]
    assert any("no BC look-up is needed" in step["summary"] for step in story), story
