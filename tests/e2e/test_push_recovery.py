"""A push whose answer was lost: the retry recovers the Stripe invoice (issue 11, finding 3).

Stripe runs the step but its answer is lost (the emulator's ``after`` fault: the effect happens,
the caller gets a 503 that Stripe says not to retry), so the reconciler's first attempt ends with
a 503 and no Stripe reference. Its retries are then held at the customer check (a fault on
``GET /v1/customers/cus_...``, which the payment flow never calls) until the world has moved on:

- the invoice was finalized and the client pays it; the payment reaches BC, which marks the
  invoice Paid. The next handling of the invoice (the bus retry, or BC's notification of the
  change, whichever comes first) finds the BC invoice Paid and, before skipping it, finds the
  Stripe invoice by its metadata: linked, ``succeeded`` with the reference, the payment in BC
  once, and the story told;
- the invoice was left a draft and the firm cancels the BC invoice. The next handling finds the
  draft and deletes it, so nothing is left for the client to pay, and skips the invoice.

Without holding anything, a retry that still finds the BC invoice Open resumes the invoice the
lost answer hid (the push says it is a retry, so the gateway looks before it creates).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from e2e_helpers import bc_invoice
from e2e_helpers import new_customer
from e2e_helpers import post_invoice
from e2e_helpers import posted_lines
from e2e_helpers import pushed
from e2e_helpers import unposted_lines
from e2e_helpers import wait_record
from factories import wait_until

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

STACK_ENV = {
    "MLC_MAX_RETRIES": "8",
    "MLC_BC_MAX_ATTEMPTS": "2",
    "MLC_BC_RETRY_BUDGET": "2",
    "MLC_STRIPE_MAX_NETWORK_RETRIES": "1",
    "MLC_GATEWAY_TIMEOUT": "20",
}

LOST = "recovered Stripe invoice {} created by an earlier attempt whose answer was lost; it is paid"


@pytest.fixture(autouse=True)
def no_faults_left(stack: LocalStack) -> Iterator[None]:
    yield
    stack.stripe.clear_faults()


@pytest.fixture
def held_retries(stack: LocalStack) -> None:
    """Every retry of a push fails at the customer check until the faults are cleared."""
    stack.stripe.inject_fault(
        status=503, count=None, method="GET", path="/v1/customers/cus_", stage="edge"
    )


def _lose_the_answer(stack: LocalStack, path: str) -> None:
    stack.stripe.inject_fault(
        status=503, count=1, method="POST", path=path, stage="after", should_retry=False
    )


def _first_failure(connector: Connector, invoice: dict[str, Any]) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def failed() -> bool:
        found[:] = [
            r for r in connector.records(kind="invoice", bc_ref=str(invoice["id"])) if r["attempts"]
        ]
        return bool(found)

    connector.wait_for("the push's first failure", failed, timeout=30)
    return found[0]


def _stripe_invoices(stack: LocalStack, bc_invoice_id: str) -> list[dict[str, Any]]:
    """The Stripe invoices carrying the BC invoice's id (deleted drafts left out)."""
    invoices = stack.stripe.admin("GET", "objects/invoice")["data"]
    return [
        i
        for i in invoices
        if i["metadata"].get("bc_invoice_id") == bc_invoice_id and not i.get("deleted")
    ]


def _link(stack: LocalStack, bc_invoice_id: str) -> list[Any]:
    engine = sa.create_engine(stack.env["MLC_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    sa.text(
                        "SELECT stripe_invoice_id, total_minor, currency FROM invoice_links "
                        "WHERE bc_invoice_id = :id"
                    ),
                    {"id": bc_invoice_id},
                ).all()
            )
    finally:
        engine.dispose()


def _story(connector: Connector, record_id: int) -> list[str]:
    return [step["summary"] for step in connector.record(record_id)["audit"]]


def test_a_first_push_pays_for_no_look_up(stack: LocalStack, connector: Connector) -> None:
    def look_ups() -> int:
        routes = stack.stripe.request_count(method="GET")["by_route"]
        return int(routes.get("GET /v1/invoices", 0) + routes.get("GET /v1/invoices/search", 0))

    before = look_ups()
    invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "10.00"})

    assert pushed(connector, invoice)["attempts"] == 0
    assert look_ups() == before


@pytest.mark.usefixtures("held_retries")
def test_a_paid_invoice_whose_push_answer_was_lost_is_linked_not_skipped(
    stack: LocalStack, connector: Connector
) -> None:
    _lose_the_answer(stack, "/v1/invoices/*/finalize")
    invoice = post_invoice(stack, new_customer(stack), {"quantity": 2, "unitPrice": "150.00"})
    bc_id = str(invoice["id"])

    first = _first_failure(connector, invoice)
    assert first["stripe_ref"] is None
    assert "503" in first["last_error"]
    [stripe_invoice] = _stripe_invoices(stack, bc_id)
    assert stripe_invoice["status"] == "open"  # finalized, although the answer never came

    # The client pays before the retry; the payment reaches BC, which marks the invoice Paid.
    charge = connector.pay(stripe_invoice["id"])["charge"]["id"]
    assert wait_record(connector, kind="payment", stripe_ref=charge)["state"] == "succeeded"
    assert wait_until(lambda: bc_invoice(stack, bc_id)["status"] == "Paid", timeout_s=30)
    stack.stripe.clear_faults()

    record = wait_record(connector, kind="invoice", bc_ref=bc_id)
    assert record["state"] == "succeeded", record
    assert record["stripe_ref"] == stripe_invoice["id"]
    assert record["last_error"] is None
    assert record["amount_minor"] == 30000
    assert _link(stack, bc_id) == [(stripe_invoice["id"], 30000, "usd")]
    story = _story(connector, record["id"])
    assert any(LOST.format(stripe_invoice["id"]) in text for text in story), story
    lines = posted_lines(stack, charge) + unposted_lines(stack, charge)
    assert [Decimal(str(line["amount"])) for line in lines] == [Decimal("-300.00")]
    assert len(_stripe_invoices(stack, bc_id)) == 1


@pytest.mark.usefixtures("held_retries")
def test_a_draft_left_by_a_lost_answer_is_deleted_once_bc_canceled_the_invoice(
    stack: LocalStack, connector: Connector
) -> None:
    _lose_the_answer(stack, "/v1/invoices")  # the push's first invoice call: the draft
    invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "80.00"})
    bc_id = str(invoice["id"])

    first = _first_failure(connector, invoice)
    assert first["stripe_ref"] is None
    [draft] = _stripe_invoices(stack, bc_id)
    assert draft["status"] == "draft"

    stack.bc_api("POST", f"salesInvoices({bc_id})/Microsoft.NAV.cancel")
    record = wait_record(connector, kind="invoice", bc_ref=bc_id)

    assert record["state"] == "skipped", record
    assert (record["stripe_ref"], record["last_error"]) == (None, None)
    assert _stripe_invoices(stack, bc_id) == []  # nothing for the client to pay
    assert stack.stripe.admin("GET", f"objects/invoice/{draft['id']}")["deleted"] is True
    assert _link(stack, bc_id) == []
    story = _story(connector, record["id"])
    assert any(f"left draft Stripe invoice {draft['id']}" in text for text in story), story


def test_a_retry_that_finds_the_bc_invoice_still_open_resumes_the_hidden_invoice(
    stack: LocalStack, connector: Connector
) -> None:
    _lose_the_answer(stack, "/v1/invoices/*/finalize")
    invoice = post_invoice(stack, new_customer(stack), {"quantity": 1, "unitPrice": "42.00"})
    bc_id = str(invoice["id"])

    record = wait_record(connector, kind="invoice", bc_ref=bc_id)

    [stripe_invoice] = _stripe_invoices(stack, bc_id)
    assert record["state"] == "succeeded", record
    assert record["attempts"] >= 1  # the lost answer failed the first attempt
    assert (record["stripe_ref"], stripe_invoice["status"]) == (stripe_invoice["id"], "open")
    assert _link(stack, bc_id) == [(stripe_invoice["id"], 4200, "usd")]
    story = _story(connector, record["id"])
    recovered = (
        f"recovered Stripe invoice {stripe_invoice['id']} created by an earlier attempt whose "
        "answer was lost; it is open"
    )
    assert any(recovered in text for text in story), story
