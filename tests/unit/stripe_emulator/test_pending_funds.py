"""Pending and available funds on the emulator clock: balance, payouts, refunds, disputes."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorServer

DAY = 86400


def paid_charge(
    emu: EmulatorServer, client: stripe.StripeClient, amount: int, currency: str = "usd"
) -> dict[str, Any]:
    customer = client.v1.customers.create(params={"email": "pending@example.com"})
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": currency})
    client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": amount}]})
    client.v1.invoices.finalize_invoice(invoice.id)
    return emu.pay_invoice(invoice.id)


def balance_of(client: stripe.StripeClient) -> dict[str, dict[str, int]]:
    balance = client.v1.balance.retrieve()
    return {
        "available": {b.currency: b.amount for b in balance.available},
        "pending": {b.currency: b.amount for b in balance.pending},
    }


def swept(client: stripe.StripeClient, payout_id: str) -> set[str]:
    txns = client.v1.balance_transactions.list(params={"payout": payout_id, "limit": 100})
    return {t.id for t in txns.data if t.type != "payout"}


class TestPendingFunds:
    def test_pending_charge_waits_for_the_clock_and_is_paid_out_once(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        ready = paid_charge(emu, client, 3000)["balance_transaction"]
        emu.configure(available_after_days=2)
        waiting = paid_charge(emu, client, 5000)["balance_transaction"]
        assert waiting["status"] == "pending"
        assert waiting["available_on"] == waiting["created"] + 2 * DAY
        assert balance_of(client) == {
            "available": {"usd": ready["net"]},
            "pending": {"usd": waiting["net"]},
        }
        [first] = emu.payout()
        assert first["amount"] == ready["net"]
        assert swept(client, first["id"]) == {ready["id"]}
        assert balance_of(client) == {"available": {"usd": 0}, "pending": {"usd": waiting["net"]}}

        emu.advance_clock(DAY)
        assert emu.payout() == []  # one day is not enough
        emu.advance_clock(DAY)
        assert client.v1.balance_transactions.retrieve(waiting["id"]).status == "available"
        [second] = emu.payout()
        assert second["amount"] == waiting["net"]
        assert swept(client, second["id"]) == {waiting["id"]}
        assert emu.payout() == []  # nothing is counted twice
        assert balance_of(client) == {"available": {"usd": 0}, "pending": {"usd": 0}}
        payouts = client.v1.payouts.list().data
        assert sum(p.amount for p in payouts) == ready["net"] + waiting["net"]

    def test_refunds_and_disputes_take_from_the_available_balance_at_once(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(available_after_days=7)
        first = paid_charge(emu, client, 4000)
        second = paid_charge(emu, client, 2000)
        refund = client.v1.refunds.create(params={"charge": first["charge"]["id"], "amount": 500})
        refund_txn = client.v1.balance_transactions.retrieve(str(refund.balance_transaction))
        assert (refund_txn.status, refund_txn.available_on) == ("available", refund_txn.created)
        dispute = emu.dispute(second["charge"]["id"])
        withdrawal = dispute["balance_transactions"][0]
        assert withdrawal["status"] == "available"
        pending = first["balance_transaction"]["net"] + second["balance_transaction"]["net"]
        # Negative available amounts are reported as they are, pending stays untouched.
        assert balance_of(client) == {
            "available": {"usd": -500 + withdrawal["net"]},
            "pending": {"usd": pending},
        }
        assert emu.payout() == []
        emu.advance_clock(7 * DAY)
        [payout] = emu.payout()
        assert payout["amount"] == pending - 500 + withdrawal["net"]
        ids = swept(client, payout["id"])
        assert {refund_txn.id, withdrawal["id"]} <= ids
        assert len(ids) == 4

    def test_balance_lists_every_currency_in_both_buckets(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        usd = paid_charge(emu, client, 1000)["balance_transaction"]
        emu.configure(available_after_days=1)
        eur = paid_charge(emu, client, 2000, "eur")["balance_transaction"]
        assert balance_of(client) == {
            "available": {"eur": 0, "usd": usd["net"]},
            "pending": {"eur": eur["net"], "usd": 0},
        }
        emu.advance_clock(DAY)
        assert balance_of(client) == {
            "available": {"eur": eur["net"], "usd": usd["net"]},
            "pending": {"eur": 0, "usd": 0},
        }

    def test_the_clock_can_be_set_and_advanced(self, emu: EmulatorServer) -> None:
        start = int(emu.admin("GET", "clock")["now"])
        assert emu.advance_clock(3 * DAY) >= start + 3 * DAY
        target = start + 10 * DAY
        assert emu.admin("POST", "clock", {"now": target})["now"] in (target, target + 1)


# -- a payout the bank returns -------------------------------------------------------------


def test_a_paid_payout_that_fails_returns_its_amount_for_the_next_payout(
    emu: EmulatorServer, client: stripe.StripeClient
) -> None:
    paid_charge(emu, client, 4000)
    [payout] = emu.payout()
    assert payout["status"] == "paid"
    failed = emu.fail_payout(payout["id"], "no_account")
    assert (failed["status"], failed["failure_code"]) == ("failed", "no_account")
    assert failed["failure_message"]
    back = client.v1.balance_transactions.retrieve(failed["failure_balance_transaction"])
    assert (back.type, back.reporting_category, back.amount, back.source) == (
        "payout_failure",
        "payout_reversal",
        payout["amount"],
        payout["id"],
    )
    assert balance_of(client)["available"] == {"usd": payout["amount"]}
    types = [e.type for e in client.v1.events.list(params={"limit": 5}).data]
    assert types[0] == "payout.failed"
    [again] = emu.payout()
    assert swept(client, again["id"]) == {back.id}
    assert again["amount"] == payout["amount"]


def test_a_failed_payout_cannot_fail_twice(
    emu: EmulatorServer, client: stripe.StripeClient
) -> None:
    paid_charge(emu, client, 4000)
    [payout] = emu.payout()
    emu.fail_payout(payout["id"])
    with pytest.raises(Exception, match="cannot fail"):
        emu.fail_payout(payout["id"])
