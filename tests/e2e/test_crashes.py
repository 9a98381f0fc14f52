"""A consumer SIGKILLed in the middle of a payment: the payment still reaches BC exactly once.

Checklist case 4 twice over: one kill at each point inside the posting, and a crash loop that
kills consumer after consumer at every kill point in turn while payments wait (issue 11: a
crash loop used to dead-letter innocent messages and lose a payment). The loop's full size,
100 kills at each point, runs in ``bench/crash_loop.py``.

The reliability checklist's kill points inside the posting (reliability.md §5.2): right after
the posting's lease was committed, and after bc-gateway wrote the BC line but before the
reconciler confirmed it. The dead consumer's lease keeps every other attempt out until it runs
out (shortened here to a few seconds); the redelivered messages wait through the bus, then one
takes the posting over, finds the line in BC if it was written, and confirms it.
"""

from __future__ import annotations

import signal
import subprocess
from decimal import Decimal
from typing import Any

import pytest
from e2e_helpers import bc_lines
from e2e_helpers import new_customer
from e2e_helpers import post_invoice
from e2e_helpers import pushed
from e2e_helpers import start_consumer
from e2e_helpers import unposted_lines
from e2e_helpers import wait_posted
from e2e_helpers import wait_record
from factories import wait_until

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from reconciler.kill_points import AFTER_CLAIM
from reconciler.kill_points import KILL_POINTS

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

# The module's stack runs with these (see the stack fixture): a lease of a few seconds.
STACK_ENV = {
    "MLC_MAX_RETRIES": "8",
    "MLC_BC_MAX_ATTEMPTS": "2",
    "MLC_BC_RETRY_BUDGET": "2",
    "MLC_GATEWAY_TIMEOUT": "4",
    "MLC_CLAIM_LEASE": "8",
    "MLC_BATCH_POST_INTERVAL": "0.5",
}


def _bc_lines(stack: LocalStack, charge_id: str) -> list[dict[str, Any]]:
    """Posted and still unposted BC lines carrying the charge id."""
    return bc_lines(stack, charge_id)


@pytest.mark.parametrize("kill_point", ["after_claim", "after_bc_write"])
def test_a_consumer_killed_mid_payment_leaves_exactly_one_bc_line(
    stack: LocalStack, connector: Connector, kill_point: str
) -> None:
    invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": 77})
    record = pushed(connector, invoice)
    stack.processes.pop("consumer-1").stop()  # the stack's own consumer makes way
    doomed = start_consumer(stack, f"doomed-{kill_point}", kill_point)
    try:
        charge = connector.pay(record["stripe_ref"])["charge"]["id"]
        assert doomed.popen.wait(timeout=60) == -signal.SIGKILL
    except subprocess.TimeoutExpired:
        pytest.fail(f"the consumer never reached {kill_point}:\n{doomed.tail()}")
    finally:
        doomed.stop()
    expected_before = 1 if kill_point == "after_bc_write" else 0
    assert len(_bc_lines(stack, charge)) == expected_before

    stack.processes["consumer-1"] = start_consumer(stack, "consumer-1")

    payment = wait_record(connector, timeout=90, kind="payment", stripe_ref=charge)
    assert payment["state"] == "succeeded", payment
    lines = _bc_lines(stack, charge)
    assert len(lines) == 1, lines
    assert Decimal(str(lines[0]["amount"])) == Decimal("-77")
    story = connector.record(payment["id"])
    actions = [step["action"] for step in story["audit"]]
    assert "waiting" in actions, actions  # someone met the dead consumer's lease
    assert wait_until(lambda: not unposted_lines(stack, charge), timeout_s=30)


# Kills per kill point in the loop below, and the payments waiting through it.
LOOP_LIVES = 3
LOOP_PAYMENTS = 5


def test_a_crash_loop_at_every_kill_point_loses_duplicates_and_parks_nothing(
    stack: LocalStack, connector: Connector
) -> None:
    invoices = [
        post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": 50 + n})
        for n in range(LOOP_PAYMENTS)
    ]
    records = [pushed(connector, invoice) for invoice in invoices]
    stack.processes.pop("consumer-1").stop()
    charges = [connector.pay(record["stripe_ref"])["charge"]["id"] for record in records]

    kills: dict[str, int] = {}
    for kill_point in KILL_POINTS:
        kills[kill_point] = 0
        for life in range(LOOP_LIVES):
            doomed = start_consumer(stack, f"loop-{kill_point}-{life}", kill_point)
            try:
                if doomed.popen.wait(timeout=25) == -signal.SIGKILL:
                    kills[kill_point] += 1
            except subprocess.TimeoutExpired:
                break  # nothing reaches this point any more: on to the next one
            finally:
                doomed.stop()
    # Every point was reached at least once while work remained.
    assert kills[AFTER_CLAIM] >= 1, kills
    assert sum(kills.values()) >= LOOP_LIVES * 2, kills

    stack.processes["consumer-1"] = start_consumer(stack, "consumer-1")
    for charge, invoice in zip(charges, invoices, strict=True):
        payment = wait_record(connector, timeout=120, kind="payment", stripe_ref=charge)
        assert payment["state"] == "succeeded", payment
        lines = wait_posted(stack, charge, timeout_s=30)
        assert len(lines) == 1, lines
        assert lines[0]["appliesToInvoiceId"] == invoice["id"]
        assert bc_lines(stack, charge) == lines  # and nothing left unposted
    failed = [r for r in connector.records(kind="payment") if r["state"] == "failed"]
    assert failed == []
    parked = [r for r in connector.records(kind="message")]
    assert parked == []
