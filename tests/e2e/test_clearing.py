"""The clearing account nets to zero by itself (docs/accounting.md), end to end.

One stack for the module; every Stripe event is delivered three times (a duplicate and a resend)
in shuffled order. A payout sweeps a currency's whole available balance, so each test ends with
its payouts, leaving every clearing account at zero for the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from e2e_helpers import posted_lines
from e2e_helpers import wait_posted
from e2e_helpers import wait_record
from factories import E2E_ENV
from factories import wait_until

from mlc_local.scenario import Connector
from mlc_local.stack import LocalStack
from mlconnector.money import from_minor

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

STACK_ENV = dict(E2E_ENV)
ZERO = Decimal(0)


@pytest.fixture(scope="module", autouse=True)
def noisy_webhooks(stack: LocalStack) -> Iterator[None]:
    stack.stripe.configure(duplicate_rate=1.0, shuffle=True)
    yield
    stack.stripe.configure(duplicate_rate=0.0, shuffle=False)


_seq = iter(range(1, 10_000))


def _customer(stack: LocalStack, currency: str = "") -> str:
    number = f"K{next(_seq):05d}"
    body: dict[str, Any] = {"number": number, "displayName": f"Clearing client {number}"}
    if currency:
        body["currencyCode"] = currency
    stack.bc_admin("POST", f"/companies/{stack.company_id}/customers", body)
    return number


def _charge(connector: Connector, customer: str, price: str, amount: int | None = None) -> str:
    """Post a BC invoice, wait for its Stripe invoice, pay it by card; the charge id."""
    invoice = connector.post_invoice(
        {
            "customerNumber": customer,
            "lines": [
                {"lineType": "Account", "lineObjectNumber": "40100", "quantity": "1",
                 "unitPrice": price}
            ],
        }
    )  # fmt: skip
    record = wait_record(connector, timeout=90, kind="invoice", bc_ref=str(invoice["id"]))
    assert record["state"] == "succeeded", record
    charge = str(connector.pay(record["stripe_ref"], amount=amount)["charge"]["id"])
    payment = wait_record(connector, timeout=90, kind="payment", stripe_ref=charge)
    assert payment["state"] == "succeeded", payment
    return charge


def _resend(stack: LocalStack, object_ids: set[str]) -> None:
    """A third copy of every event about these objects, as Stripe's own retries would send."""
    for event in stack.stripe.admin("GET", "objects/event")["data"]:
        obj = event["data"]["object"]
        if obj.get("id") in object_ids or obj.get("charge") in object_ids:
            stack.stripe.admin("POST", f"events/{event['id']}/resend")
    stack.stripe.flush_deliveries()


def _txn(stack: LocalStack, txn_id: str) -> dict[str, Any]:
    result: dict[str, Any] = stack.stripe.admin("GET", f"objects/balance_transaction/{txn_id}")
    return result


def _pay_out(connector: Connector, currency: str) -> dict[str, Any]:
    [payout] = connector.payout(currency)
    record = wait_record(connector, timeout=90, kind="payout", stripe_ref=payout["id"])
    assert record["state"] == "succeeded", record
    assert connector.payout_view(payout["id"])["payout"]["unmatched"] == []
    return payout


def _one_line_each(stack: LocalStack, stripe_ids: list[str]) -> None:
    for stripe_id in stripe_ids:
        assert len(posted_lines(stack, stripe_id)) == 1, stripe_id


def test_a_payout_of_charges_refunds_and_a_lost_dispute_nets_the_clearing_account_to_zero(
    stack: LocalStack, connector: Connector
) -> None:
    customer = _customer(stack)
    charges = [
        _charge(connector, customer, "500.00"),
        _charge(connector, customer, "80.00"),
        _charge(connector, customer, "260.00"),
    ]
    refunds = [
        connector.refund(charges[0], amount=12345)["id"],  # partial
        connector.refund(charges[1])["id"],  # full
    ]
    dispute = stack.stripe.dispute(charges[2], reason="fraudulent")
    stack.stripe.close_dispute(dispute["id"], "lost")
    for refund in refunds:
        record = wait_record(connector, timeout=60, kind="refund", stripe_ref=refund)
        assert record["state"] == "succeeded", record.get("last_error")
        assert record["flags"]["needs_person"] == "refund_customer_side"
        assert "credit memo" in record["flags"]["todo"]
    assert wait_until(
        lambda: (
            (wait_record(connector, kind="dispute", stripe_ref=dispute["id"])["flags"] or {}).get(
                "dispute_status"
            )
            == "lost"
        ),
        timeout_s=60,
    )
    _resend(stack, set(charges) | set(refunds) | {dispute["id"]})

    refunded = Decimal("123.45") + Decimal("80.00")
    assert wait_until(lambda: connector.gl_balance("20700") == refunded, timeout_s=30)
    assert connector.gl_balance("11600") == Decimal("260.00")
    assert connector.clearing_balance() == Decimal("840.00") - refunded - Decimal("260.00")

    payout = _pay_out(connector, "usd")
    assert wait_until(lambda: connector.clearing_balance() == ZERO, timeout_s=30)
    withdrawn = _txn(stack, dispute["balance_transactions"][0]["id"])
    assert connector.gl_balance("60120") == from_minor(int(withdrawn["fee"]), "usd")
    charge_fees = sum(
        int(
            _txn(stack, stack.stripe.admin("GET", f"objects/charge/{c}")["balance_transaction"])[
                "fee"
            ]
        )
        for c in charges
    )
    assert connector.gl_balance("60100") + connector.gl_balance("60110") == from_minor(
        charge_fees, "usd"
    )
    assert connector.gl_balance("10100") == from_minor(int(payout["amount"]), "usd")
    lost = wait_record(connector, kind="dispute", stripe_ref=dispute["id"])
    assert lost["flags"]["needs_person"] == "dispute_lost"
    assert lost["flags"]["reason"] == "fraudulent"
    assert lost["flags"]["evidence_due_by"]
    _one_line_each(stack, [*charges, *refunds, withdrawn["id"]])


def test_a_won_dispute_brings_the_money_back_and_only_the_kept_fee_stays_booked(
    stack: LocalStack, connector: Connector
) -> None:
    fees_before = connector.gl_balance("60120")
    charge = _charge(connector, _customer(stack), "150.00")
    dispute = stack.stripe.dispute(charge, reason="product_not_received")
    assert wait_until(
        lambda: connector.gl_balance("11600") == Decimal("410.00"), timeout_s=60
    )  # 260.00 lost before, 150.00 now
    waiting = wait_record(connector, kind="dispute", stripe_ref=dispute["id"])
    assert waiting["flags"]["needs_person"] == "dispute_evidence"
    _submit_evidence(stack, dispute["id"], "winning_evidence")
    assert wait_until(lambda: connector.gl_balance("11600") == Decimal("260.00"), timeout_s=60)
    won = wait_record(connector, kind="dispute", stripe_ref=dispute["id"])
    assert wait_until(
        lambda: (
            wait_record(connector, kind="dispute", stripe_ref=dispute["id"])["flags"].get(
                "dispute_status"
            )
            == "won"
        ),
        timeout_s=30,
    ), won
    _resend(stack, {charge, dispute["id"]})
    _pay_out(connector, "usd")
    assert wait_until(lambda: connector.clearing_balance() == ZERO, timeout_s=30)
    moves = stack.stripe.admin("GET", "objects/balance_transaction")["data"]
    ours = [t for t in moves if t.get("source") == dispute["id"]]
    assert connector.gl_balance("60120") - fees_before == from_minor(
        sum(int(t["fee"]) for t in ours), "usd"
    )
    assert (
        "needs_person"
        not in wait_record(connector, kind="dispute", stripe_ref=dispute["id"])["flags"]
    )
    _one_line_each(stack, [t["id"] for t in ours if int(t["amount"])])


def _submit_evidence(stack: LocalStack, dispute_id: str, text: str) -> None:
    """The firm answers in Stripe; in test mode this text decides the outcome."""
    response = requests.post(
        f"{stack.stripe.base_url}/v1/disputes/{dispute_id}",
        data={"evidence[uncategorized_text]": text, "submit": "true"},
        auth=(stack.stripe_key, ""),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_a_eur_invoice_settled_in_eur_books_its_payout_and_nets_the_eur_clearing_account(
    stack: LocalStack, connector: Connector
) -> None:
    customer = _customer(stack, "EUR")
    # Amounts whose fee and net lines would round to a cent more or less in USD than the
    # payments did: the payout moves each payment line for line instead.
    charges = [_charge(connector, customer, "250.00"), _charge(connector, customer, "123.45")]
    for charge in charges:
        [line] = wait_posted(stack, charge)
        assert line["journalDisplayName"] == "STRIPEEUR"
    assert connector.bank_balance("STRIPE-EUR")[0] == Decimal("373.45")
    _resend(stack, set(charges))
    payout = _pay_out(connector, "eur")
    assert payout["currency"] == "eur"
    assert wait_until(lambda: connector.bank_balance("STRIPE-EUR") == (ZERO, ZERO), timeout_s=30), (
        connector.bank_balance("STRIPE-EUR")
    )
    net = from_minor(int(payout["amount"]), "eur")
    assert connector.bank_balance("BANK-EUR")[0] == net
    _one_line_each(stack, charges)


def test_a_gbp_invoice_stripe_converts_to_usd_books_the_fx_difference(
    stack: LocalStack, connector: Connector
) -> None:
    base = f"/companies/{stack.company_id}"
    stack.bc_admin(
        "POST",
        base + "/currencies",
        {"code": "GBP", "displayName": "Pound", "exchangeRate": "1.27"},
    )
    stack.stripe.configure(
        settlement_currencies=["usd", "eur", "jpy", "kwd"], exchange_rates={"gbp": "1.2543"}
    )
    try:
        charge = _charge(connector, _customer(stack, "GBP"), "400.00")
    finally:
        stack.stripe.configure(settlement_currencies=[], exchange_rates={})
    wait_posted(stack, charge)
    # BC values the GBP payment at its own rate: 400.00 x 1.27 on the clearing account.
    assert connector.clearing_balance() == Decimal("508.00")
    _resend(stack, {charge})
    _pay_out(connector, "usd")
    assert wait_until(lambda: connector.clearing_balance() == ZERO, timeout_s=30)
    # Stripe settled 400.00 x 1.2543 = 501.72 USD: BC's value was 6.28 more, a loss.
    assert connector.gl_balance("79100") == Decimal("6.28")


def test_funds_still_pending_wait_in_the_clearing_account_for_the_next_payout(
    stack: LocalStack, connector: Connector
) -> None:
    stack.stripe.configure(available_after_days=2)
    try:
        customer = _customer(stack)
        first = _charge(connector, customer, "100.00")
        stack.stripe.advance_clock(2 * 86400)
        second = _charge(connector, customer, "40.00")
        _pay_out(connector, "usd")
        # The first charge was paid out; the second waits, at its gross amount.
        assert wait_until(lambda: connector.clearing_balance() == Decimal("40.00"), timeout_s=30)
        stack.stripe.advance_clock(2 * 86400)
        _pay_out(connector, "usd")
        assert wait_until(lambda: connector.clearing_balance() == ZERO, timeout_s=30)
        _one_line_each(stack, [first, second])
    finally:
        stack.stripe.configure(available_after_days=0)


def test_a_payout_the_bank_returns_is_reversed_and_paid_out_again(
    stack: LocalStack, connector: Connector
) -> None:
    bank_before = connector.gl_balance("10100")
    charge = _charge(connector, _customer(stack), "90.00")
    wait_posted(stack, charge)
    payout = _pay_out(connector, "usd")
    net = from_minor(int(payout["amount"]), "usd")
    assert wait_until(lambda: connector.clearing_balance() == ZERO, timeout_s=30)
    stack.stripe.fail_payout(payout["id"], "account_closed")
    _resend(stack, {payout["id"]})
    # The transfer is reversed: the money is back in Stripe's balance, and in the clearing account.
    assert wait_until(lambda: connector.clearing_balance() == net, timeout_s=60)
    assert connector.gl_balance("10100") == bank_before
    failed = wait_record(connector, kind="payout", stripe_ref=payout["id"])
    assert failed["flags"]["needs_person"] == "payout_failed"
    assert "account_closed" in failed["flags"]["todo"]
    again = _pay_out(connector, "usd")
    assert again["amount"] == payout["amount"]
    assert wait_until(lambda: connector.clearing_balance() == ZERO, timeout_s=30)
    assert connector.gl_balance("10100") == bank_before + net
    assert len(posted_lines(stack, payout["id"])) == 1  # the reversal, once


def _drift_check(connector: Connector) -> dict[str, dict[str, Any]]:
    response = requests.post(
        connector.stack.url("reconciler") + "/drift-checks",
        json={"actor": "e2e"},
        headers={"Authorization": f"Bearer {connector.stack.replay_token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return {c["currency"]: c for c in response.json()["currencies"]}


def test_the_drift_check_explains_what_is_in_flight_and_raises_what_is_not(
    stack: LocalStack, connector: Connector
) -> None:
    # In flight: a charge posted in BC but not paid out; Stripe holds its net, BC its gross.
    charge = _charge(connector, _customer(stack), "64.00")
    wait_posted(stack, charge)
    checked = _drift_check(connector)
    assert set(checked) == {"usd", "eur", "jpy", "kwd"}
    usd = checked["usd"]
    assert usd["explained"], usd
    fee = _txn(stack, stack.stripe.admin("GET", f"objects/charge/{charge}")["balance_transaction"])
    assert usd["figures"]["fees_not_booked"] == str(from_minor(int(fee["fee"]), "usd"))
    assert usd["figures"]["bc_clearing"] == "64.00"
    assert all(c["explained"] for c in checked.values())

    # A person books 10.00 on the clearing account by hand: that the check cannot explain.
    batch = stack.bc_api_get("journals", {"$filter": "code eq 'DEFAULT'"})[0]
    stack.bc_api(
        "POST",
        f"journals({batch['id']})/journalLines",
        {
            "accountType": "G/L Account",
            "accountNumber": "10900",
            "amount": 10,
            "postingDate": "2026-12-07",
            "documentNumber": "HAND1",
            "balanceAccountType": "G/L Account",
            "balancingAccountNumber": "40100",
        },
    )
    stack.bc_api("POST", f"journals({batch['id']})/Microsoft.NAV.post")
    usd = _drift_check(connector)["usd"]
    assert not usd["explained"]
    assert usd["figures"]["difference"] == "10.00"
    [record] = [
        r
        for r in connector.records(kind="drift")
        if r["currency"] == "usd" and r["state"] == "unmatched"
    ]
    assert record["flags"]["needs_person"] == "clearing_drift"
    assert "above what Stripe holds" in record["last_error"]
    metrics = requests.get(stack.url("reconciler") + "/metrics", timeout=10).text
    assert 'mlc_clearing_drift{currency="usd"} 10.0' in metrics
