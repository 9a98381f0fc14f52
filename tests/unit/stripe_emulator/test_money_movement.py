"""Charges, refunds, fees, balance transactions, payouts and currency rules."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorServer

N = type(None)
Shape = dict[str, tuple[type, ...]]
CheckShape = Callable[[object, type, Shape], dict[str, Any]]

CHARGE: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "amount_captured": (int,),
    "amount_refunded": (int,), "refunded": (bool,), "paid": (bool,), "status": (str,),
    "balance_transaction": (str, N), "payment_intent": (str, N), "payment_method": (str, N),
    "customer": (str, N), "currency": (str,), "metadata": (dict,), "receipt_url": (str, N),
    "failure_code": (str, N), "failure_message": (str, N), "outcome": (dict, N),
    "disputed": (bool,), "captured": (bool,), "created": (int,),
}  # fmt: skip
PAYMENT_INTENT: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "amount_received": (int,),
    "latest_charge": (str, N), "status": (str,), "customer": (str, N), "metadata": (dict,),
    "payment_details": (dict, N), "amount_details": (dict, N), "currency": (str,),
}  # fmt: skip
REFUND: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "status": (str,), "charge": (str,),
    "payment_intent": (str, N), "balance_transaction": (str, N),
    "failure_balance_transaction": (str, N), "failure_reason": (str, N),
    "pending_reason": (str, N), "reason": (str, N), "metadata": (dict,),
    "destination_details": (dict, N), "currency": (str,),
}  # fmt: skip
BALANCE_TRANSACTION: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "fee": (int,), "fee_details": (list,),
    "net": (int,), "currency": (str,), "exchange_rate": (float, N), "available_on": (int,),
    "status": (str,), "reporting_category": (str,), "source": (str, N), "balance_type": (str,),
    "type": (str,), "created": (int,),
}  # fmt: skip
PAYOUT: Shape = {
    "id": (str,), "object": (str,), "amount": (int,), "currency": (str,),
    "arrival_date": (int,), "status": (str,), "automatic": (bool,), "method": (str,),
    "balance_transaction": (str, N), "failure_balance_transaction": (str, N),
    "failure_code": (str, N), "failure_message": (str, N), "reconciliation_status": (str,),
    "original_payout": (str, N), "reversed_by": (str, N), "statement_descriptor": (str, N),
    "trace_id": (dict, N), "type": (str,),
}  # fmt: skip


def paid_charge(
    emu: EmulatorServer, client: stripe.StripeClient, amount: int, currency: str = "usd"
) -> dict[str, Any]:
    customer = client.v1.customers.create(params={"email": "pay@example.com"})
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": currency})
    client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": amount}]})
    client.v1.invoices.finalize_invoice(invoice.id)
    return emu.pay_invoice(invoice.id)


def expected_fee(amount: int, percent: str, fixed: int) -> int:
    share = (Decimal(amount) * Decimal(percent) / 100).quantize(Decimal(1), ROUND_HALF_UP)
    return int(share) + fixed


class TestChargesAndFees:
    def test_card_payment_objects_and_fee(
        self, emu: EmulatorServer, client: stripe.StripeClient, assert_shape: CheckShape
    ) -> None:
        result = paid_charge(emu, client, 1550)
        charge = client.v1.charges.retrieve(
            result["charge"]["id"], params={"expand": ["balance_transaction", "payment_intent"]}
        )
        data = assert_shape(
            charge,
            stripe.Charge,
            {**CHARGE, "balance_transaction": (dict,), "payment_intent": (dict,)},
        )
        assert "invoice" not in data
        assert (charge.status, charge.paid, charge.refunded) == ("succeeded", True, False)
        intent = charge.payment_intent
        assert_shape(intent, stripe.PaymentIntent, PAYMENT_INTENT)
        assert "invoice" not in intent.to_dict()  # type: ignore[union-attr]
        txn = charge.balance_transaction
        assert_shape(txn, stripe.BalanceTransaction, BALANCE_TRANSACTION)
        assert isinstance(txn, stripe.BalanceTransaction)
        assert (txn.type, txn.reporting_category, txn.status) == ("charge", "charge", "available")
        assert txn.fee == expected_fee(1550, "2.9", 30) == 75
        assert txn.net == 1550 - 75
        assert [(f.type, f.amount) for f in txn.fee_details] == [("stripe_fee", 75)]

    def test_fee_schedule_is_configurable_per_currency(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(
            fees={
                "default": {"percent": "2.9", "fixed": 30},
                "eur": {"percent": "1.5", "fixed": 25},
            }
        )
        result = paid_charge(emu, client, 10001, "eur")
        txn = client.v1.balance_transactions.retrieve(result["charge"]["balance_transaction"])
        assert txn.fee == expected_fee(10001, "1.5", 25) == 175

    def test_declined_card_is_a_card_error(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        customer = client.v1.customers.create()
        invoice = client.v1.invoices.create(params={"customer": customer.id})
        client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": 900}]})
        client.v1.invoices.finalize_invoice(invoice.id)
        with pytest.raises(stripe.CardError) as caught:
            client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_chargeDeclined"})
        assert caught.value.code == "card_declined"
        assert client.v1.invoices.retrieve(invoice.id).status == "open"
        paid = client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
        assert paid.status == "paid"


class TestRefunds:
    def test_partial_then_full_refund(
        self, emu: EmulatorServer, client: stripe.StripeClient, assert_shape: CheckShape
    ) -> None:
        charge_id = paid_charge(emu, client, 5000)["charge"]["id"]
        first = client.v1.refunds.create(params={"charge": charge_id, "amount": 1200})
        assert_shape(first, stripe.Refund, REFUND)
        charge = client.v1.charges.retrieve(charge_id)
        assert (charge.amount_refunded, charge.refunded) == (1200, False)
        second = client.v1.refunds.create(params={"charge": charge_id})
        assert second.amount == 3800
        charge = client.v1.charges.retrieve(charge_id, params={"expand": ["refunds"]})
        assert (charge.amount_refunded, charge.refunded) == (5000, True)
        assert charge.refunds is not None
        assert {r.id for r in charge.refunds.data} == {first.id, second.id}
        txn = client.v1.balance_transactions.retrieve(str(first.balance_transaction))
        assert (txn.type, txn.reporting_category, txn.amount, txn.fee) == (
            "refund",
            "refund",
            -1200,
            0,
        )
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.refunds.create(params={"charge": charge_id})
        assert caught.value.code == "charge_already_refunded"

    def test_refund_larger_than_remaining(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        intent_id = paid_charge(emu, client, 1000)["payment_intent"]["id"]
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 1001})
        assert caught.value.code == "amount_too_large"


class TestPayouts:
    def test_payout_sweeps_available_balance_and_lists_by_payout(
        self, emu: EmulatorServer, client: stripe.StripeClient, assert_shape: CheckShape
    ) -> None:
        first = paid_charge(emu, client, 2000)["charge"]
        paid_charge(emu, client, 3000)
        client.v1.refunds.create(params={"charge": first["id"], "amount": 500})
        [payout_dict] = emu.payout("usd")
        payout = client.v1.payouts.retrieve(payout_dict["id"])
        assert_shape(payout, stripe.Payout, PAYOUT)
        fees = expected_fee(2000, "2.9", 30) + expected_fee(3000, "2.9", 30)
        assert payout.amount == 5000 - 500 - fees
        assert (payout.status, payout.reconciliation_status, payout.automatic) == (
            "paid", "completed", True,
        )  # fmt: skip
        txns = client.v1.balance_transactions.list(
            params={"payout": payout.id, "expand": ["data.source"]}
        )
        by_type = sorted((t.type, t.net) for t in txns.data)
        assert by_type == sorted(
            [("charge", 2000 - expected_fee(2000, "2.9", 30)),
             ("charge", 3000 - expected_fee(3000, "2.9", 30)),
             ("refund", -500), ("payout", -payout.amount)]
        )  # fmt: skip
        assert sum(t.net for t in txns.data) == 0
        assert any(isinstance(t.source, stripe.Charge) for t in txns.data)
        balance = client.v1.balance.retrieve()
        assert [(b.currency, b.amount) for b in balance.available] == [("usd", 0)]
        types = [e.type for e in client.v1.events.list(params={"type": "payout.*"}).data]
        assert {"payout.created", "payout.paid", "payout.reconciliation_completed"} <= set(types)

    def test_transactions_by_payout_wait_for_reconciliation(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        paid_charge(emu, client, 2000)
        [payout] = emu.payout(reconcile=False)
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.balance_transactions.list(params={"payout": payout["id"]})
        assert caught.value.code == "payout_reconciliation_not_ready"
        emu.admin("POST", f"payouts/{payout['id']}/reconcile")
        assert len(client.v1.balance_transactions.list(params={"payout": payout["id"]}).data) == 2


class TestCurrencyRules:
    def test_jpy_is_zero_decimal(self, emu: EmulatorServer, client: stripe.StripeClient) -> None:
        result = paid_charge(emu, client, 1000, "jpy")
        assert (result["charge"]["amount"], result["charge"]["currency"]) == (1000, "jpy")
        with pytest.raises(stripe.InvalidRequestError) as small:
            client.v1.payment_intents.create(params={"amount": 49, "currency": "jpy"})
        assert (small.value.code, small.value.param) == ("amount_too_small", "amount")
        intent = client.v1.payment_intents.create(
            params={
                "amount": 50,
                "currency": "jpy",
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
        assert (intent.status, intent.amount_received) == ("succeeded", 50)

    def test_kwd_amounts_must_end_in_zero(self, client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.payment_intents.create(
                params={
                    "amount": 5125,
                    "currency": "kwd",
                    "payment_method": "pm_card_visa",
                    "confirm": True,
                }
            )
        assert caught.value.code == "invalid_charge_amount"
        ok = client.v1.payment_intents.create(
            params={
                "amount": 5120,
                "currency": "kwd",
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
        assert ok.status == "succeeded"

    def test_unknown_currency_is_rejected(self, client: stripe.StripeClient) -> None:
        customer = client.v1.customers.create()
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.invoices.create(params={"customer": customer.id, "currency": "xyz"})
        assert caught.value.param == "currency"
