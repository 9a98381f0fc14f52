"""What happens to a pushed invoice in BC reaches Stripe; what happens in Stripe reaches a person.

One stack, Stripe e-mailing each invoice (``MLC_INVOICE_DELIVERY=stripe_email``); every Stripe
event is delivered twice and shuffled. Credit memos and cancellations are made in BC as a person
would (the emulator's seed route for a posted credit memo, BC's API for ``Microsoft.NAV.cancel``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import wait_posted
from e2e_helpers import wait_record
from factories import E2E_ENV
from factories import wait_until

from mlc_local.processes import bin_path
from mlc_local.processes import run_cli
from mlc_local.scenario import Connector
from mlc_local.scenario import exact_numbers
from mlc_local.stack import LocalStack

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

STACK_ENV = {**E2E_ENV, "MLC_INVOICE_DELIVERY": "stripe_email"}


@pytest.fixture(scope="module", autouse=True)
def noisy_webhooks(stack: LocalStack) -> Iterator[None]:
    stack.stripe.configure(duplicate_rate=1.0, shuffle=True)
    yield
    stack.stripe.configure(duplicate_rate=0.0, shuffle=False)


_seq = iter(range(1, 10_000))


def _line(description: str, quantity: str, price: str, **more: str) -> dict[str, Any]:
    return {"lineType": "Account", "lineObjectNumber": "40100", "description": description,
            "quantity": quantity, "unitPrice": price, **more}  # fmt: skip


def _pushed(
    stack: LocalStack, connector: Connector, price: str, *lines: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """A posted BC invoice for a new customer (one "Work" line at ``price`` unless ``lines``
    are given), and its Stripe invoice id once pushed."""
    number = f"L{next(_seq):05d}"
    stack.bc_admin(
        "POST",
        f"/companies/{stack.company_id}/customers",
        {"number": number, "displayName": f"Life {number}", "email": f"{number}@example.com"},
    )
    invoice = connector.post_invoice(
        {"customerNumber": number, "lines": list(lines) or [_line("Work", "1", price)]}
    )
    record = wait_record(connector, timeout=90, kind="invoice", bc_ref=str(invoice["id"]))
    assert record["state"] == "succeeded", record.get("last_error")
    return invoice, str(record["stripe_ref"])


def _credit_memo(stack: LocalStack, invoice: dict[str, Any], price: str) -> dict[str, Any]:
    return Connector(stack).credit_memo(invoice, price, "Credit")


def _credit_memo_of(
    stack: LocalStack, invoice: dict[str, Any], *lines: dict[str, Any]
) -> dict[str, Any]:
    """The firm posts a credit memo with these lines, applied to the invoice."""
    result: dict[str, Any] = stack.bc_admin(
        "POST",
        f"/companies/{stack.company_id}/creditMemos",
        exact_numbers(
            {"customerNumber": invoice["customerNumber"], "invoiceId": invoice["id"],
             "lines": list(lines), "post": True}
        ),
    )  # fmt: skip
    return result


def _credit_notes(stack: LocalStack, stripe_id: str) -> list[dict[str, Any]]:
    return [
        n for n in stack.stripe.admin("GET", "objects/credit_note")["data"]
        if n["invoice"] == stripe_id
    ]  # fmt: skip


def _credit_note_lines(note: dict[str, Any]) -> list[dict[str, Any]]:
    """The credit note's lines (all of them: the list is not cut short)."""
    assert note["lines"]["has_more"] is False
    lines: list[dict[str, Any]] = note["lines"]["data"]
    return lines


def _summaries(connector: Connector, record: dict[str, Any]) -> str:
    """Every audit step's summary of a record, one a line."""
    return "\n".join(step["summary"] for step in connector.record(int(record["id"]))["audit"])


def _stripe_invoice(stack: LocalStack, stripe_id: str) -> dict[str, Any]:
    result: dict[str, Any] = stack.stripe.admin("GET", f"objects/invoice/{stripe_id}")
    return result


def _memo_record(connector: Connector, memo: dict[str, Any]) -> dict[str, Any]:
    record = wait_record(connector, timeout=60, kind="credit_memo", bc_ref=str(memo["id"]))
    assert record["state"] == "succeeded", record.get("last_error")
    return record


def test_stripe_emails_the_invoice_and_the_record_keeps_its_payment_link(
    stack: LocalStack, connector: Connector
) -> None:
    invoice, stripe_id = _pushed(stack, connector, "120.00")
    [record] = connector.records(kind="invoice", bc_ref=str(invoice["id"]))
    assert (
        record["flags"]["payment_link"] == _stripe_invoice(stack, stripe_id)["hosted_invoice_url"]
    )
    events = stack.stripe.admin("GET", "objects/event")["data"]
    sent = [
        e for e in events if e["type"] == "invoice.sent" and e["data"]["object"]["id"] == stripe_id
    ]
    assert len(sent) == 1


def test_a_partial_credit_memo_before_payment_lowers_what_the_client_pays(
    stack: LocalStack, connector: Connector
) -> None:
    invoice, stripe_id = _pushed(
        stack,
        connector,
        "",
        _line("Work", "3", "100.00", taxPercent="10"),  # 300.00 + 30.00 tax
        _line("Travel", "1", "45.50"),
    )
    pushed_lines = _stripe_invoice(stack, stripe_id)["lines"]["data"]
    work, travel, tax = (line["id"] for line in pushed_lines)
    assert [line["description"] for line in pushed_lines][2] == "Tax"
    # The clerk credits one of the three hours, the whole trip and 10.00 of goodwill.
    memo = _credit_memo_of(
        stack,
        invoice,
        _line("Work", "1", "100.00", taxPercent="10"),
        _line("Travel", "1", "45.50"),
        _line("Goodwill", "1", "10.00"),
    )
    assert Decimal(str(memo["totalAmountIncludingTax"])) == Decimal("165.50")
    record = _memo_record(connector, memo)
    assert wait_until(
        lambda: _stripe_invoice(stack, stripe_id)["amount_remaining"] == 37550 - 16550,
        timeout_s=30,
    )
    notes = _credit_notes(stack, stripe_id)
    assert [n["amount"] for n in notes] == [16550]  # once, however often the events came
    [note] = notes
    assert note["metadata"]["bc_credit_memo_id"] == str(memo["id"])
    assert note["metadata"]["bc_credit_memo_number"] == memo["number"]
    lines = _credit_note_lines(note)
    got = [
        (x["type"], x["invoice_line_item"], x["quantity"], x["amount"], x["metadata"])
        for x in lines
    ]
    # A part of a line is credited by amount, a whole one by quantity, the tax on the tax
    # line; the goodwill line matches no invoice line. Each carries its BC line sequence.
    assert got == [
        ("invoice_line_item", work, None, 10000, {"bc_line_sequence": "10000"}),
        ("invoice_line_item", travel, 1, 4550, {"bc_line_sequence": "20000"}),
        ("custom_line_item", None, 1, 1000, {"bc_line_sequence": "30000"}),
        ("invoice_line_item", tax, None, 1000, {"bc_amount": "total_tax_amount"}),
    ]
    assert lines[2]["description"] == "Goodwill"
    assert sum(x["amount"] for x in lines) == note["amount"] == 16550  # to the cent
    assert "4 line(s), 3 crediting invoice lines" in _summaries(connector, record)
    charge = connector.pay(stripe_id)["charge"]["id"]
    assert wait_record(connector, kind="payment", stripe_ref=charge)["state"] == "succeeded"

    def bc_agrees() -> bool:
        bc = stack.bc_api_get("salesInvoices", {"$filter": f"id eq {invoice['id']}"})[0]
        return Decimal(str(bc["remainingAmount"])) == 0 and bc["status"] == "Paid"

    assert wait_until(bc_agrees, timeout_s=30)
    assert _stripe_invoice(stack, stripe_id)["status"] == "paid"


def test_a_credit_memo_for_everything_before_payment_voids_the_stripe_invoice(
    stack: LocalStack, connector: Connector
) -> None:
    invoice, stripe_id = _pushed(stack, connector, "80.00")
    _memo_record(connector, _credit_memo(stack, invoice, "80.00"))
    assert wait_until(lambda: _stripe_invoice(stack, stripe_id)["status"] == "void", timeout_s=30)
    # The connector's own void is no item for a person.
    [record] = connector.records(kind="invoice", bc_ref=str(invoice["id"]))
    assert "needs_person" not in (record.get("flags") or {})


def test_a_credit_memo_after_payment_credits_the_customer_balance_and_moves_no_money(
    stack: LocalStack, connector: Connector
) -> None:
    invoice, stripe_id = _pushed(stack, connector, "150.00")
    # The client pays 100.00 of it; BC books it, so 50.00 is still open there.
    charge = connector.pay(stripe_id, amount=10000)["charge"]["id"]
    assert wait_record(connector, kind="payment", stripe_ref=charge)["state"] == "succeeded"
    wait_posted(stack, charge)
    # BC applies 50.00 of the 80.00 credit memo; 30.00 of it credits what was already paid.
    # The memo lowers the price of the invoice's one line: it credits that line by amount.
    _memo_record(connector, _credit_memo_of(stack, invoice, _line("Work", "1", "80.00")))
    [note] = _credit_notes(stack, stripe_id)
    assert (note["amount"], note["pre_payment_amount"], note["post_payment_amount"]) == (
        8000,
        5000,
        3000,
    )
    [work] = _stripe_invoice(stack, stripe_id)["lines"]["data"]
    [line] = _credit_note_lines(note)
    assert (line["type"], line["invoice_line_item"], line["quantity"], line["amount"]) == (
        "invoice_line_item", work["id"], None, 8000,
    )  # fmt: skip
    assert note["refunds"] == []
    refunds = stack.stripe.admin("GET", "objects/refund")["data"]
    assert not [r for r in refunds if r.get("charge") == charge]
    customer_id = _stripe_invoice(stack, stripe_id)["customer"]
    assert stack.stripe.admin("GET", f"objects/customer/{customer_id}")["balance"] == -3000
    assert _stripe_invoice(stack, stripe_id)["status"] == "paid"


def test_a_cancelled_invoice_voids_the_stripe_invoice(
    stack: LocalStack, connector: Connector
) -> None:
    invoice, stripe_id = _pushed(stack, connector, "95.00")
    stack.bc_api("POST", f"salesInvoices({invoice['id']})/Microsoft.NAV.cancel")
    assert wait_until(lambda: _stripe_invoice(stack, stripe_id)["status"] == "void", timeout_s=60)


def test_an_invoice_voided_in_stripe_is_an_item_for_a_person_and_bc_is_untouched(
    stack: LocalStack, connector: Connector
) -> None:
    invoice, stripe_id = _pushed(stack, connector, "70.00")
    stack.stripe.void_invoice(stripe_id)

    def flagged() -> dict[str, Any] | None:
        [record] = connector.records(kind="invoice", bc_ref=str(invoice["id"]))
        return record if (record.get("flags") or {}).get("needs_person") else None

    assert wait_until(lambda: flagged() is not None, timeout_s=30)
    record = flagged()
    assert record is not None
    assert record["flags"]["needs_person"] == "changed_in_stripe"
    assert "voided in Stripe" in record["flags"]["todo"]
    bc = stack.bc_api_get("salesInvoices", {"$filter": f"id eq {invoice['id']}"})[0]
    assert (bc["status"], Decimal(str(bc["remainingAmount"]))) == ("Open", Decimal("70.00"))


def _pay_in_bc(stack: LocalStack, invoice: dict[str, Any], amount: str, reference: str) -> None:
    connector = Connector(stack)
    connector.pay_in_bc(invoice, Decimal(amount), reference)
    connector.poll_bc()  # the invoice poll (every 15 minutes) sees the lower open amount


def test_an_invoice_paid_by_bank_transfer_in_bc_cannot_be_paid_in_stripe_any_more(
    stack: LocalStack, connector: Connector
) -> None:
    invoice, stripe_id = _pushed(stack, connector, "210.00")
    _pay_in_bc(stack, invoice, "210.00", "BT-FULL")
    assert wait_until(lambda: _stripe_invoice(stack, stripe_id)["status"] == "paid", timeout_s=60)
    assert _stripe_invoice(stack, stripe_id)["amount_paid_off_stripe"] == 21000  # no card
    with pytest.raises(RuntimeError):
        connector.pay(stripe_id)
    # Another poll sees the same open amount: nothing is recorded twice.
    connector.poll_bc()
    [record] = connector.records(kind="invoice", bc_ref=str(invoice["id"]))
    assert record["flags"]["paid_elsewhere"] == "210.00 USD"


def test_a_partial_payment_in_bc_leaves_stripe_asking_for_the_rest(
    stack: LocalStack, connector: Connector
) -> None:
    invoice, stripe_id = _pushed(stack, connector, "100.00")
    _pay_in_bc(stack, invoice, "40.00", "BT-PART")
    assert wait_until(
        lambda: _stripe_invoice(stack, stripe_id)["amount_remaining"] == 6000, timeout_s=60
    )
    assert _stripe_invoice(stack, stripe_id)["status"] == "open"
    charge = connector.pay(stripe_id)["charge"]["id"]
    assert wait_record(connector, kind="payment", stripe_ref=charge)["state"] == "succeeded"

    def both_paid() -> bool:
        bc = stack.bc_api_get("salesInvoices", {"$filter": f"id eq {invoice['id']}"})[0]
        return Decimal(str(bc["remainingAmount"])) == 0

    assert wait_until(both_paid, timeout_s=30)
    assert _stripe_invoice(stack, stripe_id)["status"] == "paid"


def test_an_e_mail_changed_in_stripe_is_an_item_for_a_person_and_bc_keeps_its_own(
    stack: LocalStack, connector: Connector
) -> None:
    invoice, stripe_id = _pushed(stack, connector, "60.00")
    customer_id = _stripe_invoice(stack, stripe_id)["customer"]
    stack.stripe.update_customer(customer_id, email="new-address@example.com")

    def flagged() -> dict[str, Any] | None:
        records = connector.records(kind="customer", bc_ref=str(invoice["customerId"]))
        return next((r for r in records if (r.get("flags") or {}).get("needs_person")), None)

    assert wait_until(lambda: flagged() is not None, timeout_s=30)
    record = flagged()
    assert record is not None
    assert "new-address@example.com" in record["flags"]["todo"]
    [bc] = stack.bc_api_get("customers", {"$filter": f"number eq '{invoice['customerNumber']}'"})
    assert bc["email"] == f"{invoice['customerNumber']}@example.com"


def test_the_first_connection_previews_then_pushes_every_open_invoice_once_across_an_interruption(
    stack: LocalStack, connector: Connector, tmp_path: Path
) -> None:
    # Invoices the firm posted before connecting: BC's webhooks are held back meanwhile.
    stack.bc_admin("PATCH", "/config", {"notification_delay_seconds": 3600})
    try:
        number = f"F{next(_seq):05d}"
        stack.bc_admin(
            "POST",
            f"/companies/{stack.company_id}/customers",
            {"number": number, "displayName": "First load", "email": "first@example.com"},
        )
        waiting = [
            connector.post_invoice(
                {
                    "customerNumber": number,
                    "lines": [
                        {
                            "lineType": "Account",
                            "lineObjectNumber": "40100",
                            "quantity": "1",
                            "unitPrice": f"{100 + i}.00",
                        }
                    ],
                }
            )  # fmt: skip
            for i in range(40)
        ]
        open_now = stack.bc_api_get("salesInvoices", {"$filter": "status eq 'Open'"})
        preview = run_cli(["bc-gateway", "initial-load", "--preview"], stack.env)
        assert f"{len(open_now)} open invoice(s)" in preview
        assert "USD:" in preview

        # Pages of 5, each slowed down, so the load is stopped part-way through.
        stack.bc_admin("PATCH", "/config", {"latency_ms": 150})
        cursor = tmp_path / "load.json"
        env = {**stack.env, "MLC_BC_PAGE_SIZE": "5"}
        load = subprocess.Popen(  # noqa: S603 - our own console script
            [bin_path("bc-gateway"), "initial-load", "--cursor", str(cursor)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def part_way() -> bool:
            try:
                return int(json.loads(cursor.read_text())["published"]) >= 10
            except (OSError, ValueError, KeyError):
                return False

        assert wait_until(part_way, timeout_s=60)
        load.kill()
        load.wait()
        stack.bc_admin("PATCH", "/config", {"latency_ms": 0})
        stopped = json.loads(cursor.read_text())
        assert stopped["status"] == "running"
        assert stopped["published"] < len(open_now)
        out = run_cli(["bc-gateway", "initial-load", "--resume", "--cursor", str(cursor)], env)
        assert f"resumed from the cursor: {stopped['published']}" in out
    finally:
        stack.bc_admin("PATCH", "/config", {"notification_delay_seconds": 0.05, "latency_ms": 0})
        stack.bc_admin("POST", "/notifications/flush")
    for invoice in waiting:
        record = wait_record(connector, timeout=120, kind="invoice", bc_ref=str(invoice["id"]))
        assert record["state"] == "succeeded", record.get("last_error")
    stripe_invoices = stack.stripe.admin("GET", "objects/invoice")["data"]
    ours = {str(i["id"]) for i in waiting}
    pushed = [i["metadata"].get("bc_invoice_id") for i in stripe_invoices]
    assert sorted(p for p in pushed if p in ours) == sorted(ours)  # each exactly once
