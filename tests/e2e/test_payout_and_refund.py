"""Refunds and payouts end to end, on a stack of their own (a payout sweeps the whole balance).

USD only, BC's local currency: every charge the payout settles was posted by the connector, so
after the payout the Stripe clearing account nets to zero and the fees sit on the fee account.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from e2e_helpers import wait_record
from factories import wait_until

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlconnector.money import from_minor

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def _invoice(connector: Connector, customer: str, price: str) -> dict[str, Any]:
    return connector.post_invoice(
        {
            "customerNumber": customer,
            "lines": [
                {
                    "lineType": "Account",
                    "lineObjectNumber": "40100",
                    "quantity": "1",
                    "unitPrice": price,
                }
            ],
        }
    )


def _gl_total(stack: LocalStack, account: str) -> Decimal:
    entries = stack.bc_api_get("generalLedgerEntries", {"$filter": f"accountNumber eq '{account}'"})
    return sum(
        (Decimal(str(e["debitAmount"])) - Decimal(str(e["creditAmount"])) for e in entries),
        Decimal(0),
    )


def test_payout_books_fees_and_transfer_and_the_clearing_account_nets_to_zero(
    stack: LocalStack, connector: Connector
) -> None:
    stack.bc_admin(
        "POST",
        f"/companies/{stack.company_id}/customers",
        [
            {"number": "P1", "displayName": "Payout One"},
            {"number": "P2", "displayName": "Payout Two"},
        ],
    )
    invoices = [
        _invoice(connector, "P1", "1200.00"),
        _invoice(connector, "P2", "349.99"),
        _invoice(connector, "P2", "80.00"),
    ]
    stripe_ids = [
        wait_record(connector, timeout=90, kind="invoice", bc_ref=str(i["id"]))["stripe_ref"]
        for i in invoices
    ]
    charges = [
        connector.pay(stripe_ids[0])["charge"],
        connector.pay(stripe_ids[1])["charge"],
        connector.pay(stripe_ids[2], amount=5000)["charge"],
    ]
    for charge in charges:
        assert (
            wait_record(connector, timeout=90, kind="payment", stripe_ref=charge["id"])["state"]
            == "succeeded"
        )
    # The batch poster posts the payment lines within its interval of the records succeeding.
    paid = Decimal("1200.00") + Decimal("349.99") + Decimal("50.00")
    assert wait_until(lambda: connector.clearing_balance() == paid, timeout_s=20)

    [payout] = connector.payout()
    record = wait_record(connector, timeout=90, kind="payout", stripe_ref=payout["id"])
    assert record["state"] == "succeeded", record

    fees = sum(
        int(
            stack.stripe.admin("GET", f"objects/balance_transaction/{c['balance_transaction']}")[
                "fee"
            ]
        )
        for c in charges
    )
    assert wait_until(lambda: connector.clearing_balance() == 0, timeout_s=20)
    assert _gl_total(stack, "60100") == from_minor(fees, "usd")
    assert payout["amount"] == 159999 - fees
    view = connector.payout_view(payout["id"])
    assert view["payout"]["unmatched"] == []
    assert view["payout"]["fee_minor"] == fees


def test_a_partial_refund_becomes_one_positive_line_in_the_refund_batch_left_for_review(
    stack: LocalStack, connector: Connector
) -> None:
    stack.bc_admin(
        "POST",
        f"/companies/{stack.company_id}/customers",
        {"number": "R1", "displayName": "Refund One"},
    )
    invoice = _invoice(connector, "R1", "500.00")
    stripe_id = wait_record(connector, timeout=90, kind="invoice", bc_ref=str(invoice["id"]))[
        "stripe_ref"
    ]
    charge = connector.pay(stripe_id)["charge"]["id"]
    assert (
        wait_record(connector, timeout=90, kind="payment", stripe_ref=charge)["state"]
        == "succeeded"
    )

    refund = connector.refund(charge, amount=12345)
    refund_id = refund.get("id") or refund["refund"]["id"]
    record = wait_record(connector, timeout=90, kind="refund", stripe_ref=refund_id)
    assert record["state"] == "succeeded", record
    pending = stack.bc_admin("GET", f"/companies/{stack.company_id}/journalLines")["value"]
    lines = [line for line in pending if line.get("externalDocumentNumber") == refund_id.upper()]
    assert len(lines) == 1
    assert Decimal(str(lines[0]["amount"])) == Decimal("123.45")
    # Never posted by default: it waits in its own batch for a person.
    posted = stack.bc_admin("GET", f"/companies/{stack.company_id}/postedJournalLines")["value"]
    assert not [p for p in posted if p["externalDocumentNumber"] == refund_id.upper()]
