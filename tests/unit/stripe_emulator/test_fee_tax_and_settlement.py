"""Tax on Stripe's fees and conversion into a settlement currency."""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorError
from stripe_emulator.server import EmulatorServer


def paid_charge(
    emu: EmulatorServer, client: stripe.StripeClient, amount: int, currency: str = "usd"
) -> dict[str, Any]:
    customer = client.v1.customers.create(params={"email": "fx@example.com"})
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": currency})
    client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": amount}]})
    client.v1.invoices.finalize_invoice(invoice.id)
    return emu.pay_invoice(invoice.id)


def txn_of(client: stripe.StripeClient, result: dict[str, Any]) -> stripe.BalanceTransaction:
    return client.v1.balance_transactions.retrieve(result["charge"]["balance_transaction"])


def processing(amount: int) -> int:
    """2.9 % + 30, half-up: the default fee schedule."""
    return int((Decimal(amount) * Decimal("2.9") / 100).quantize(1, ROUND_HALF_UP)) + 30


class TestTaxOnFees:
    def test_default_has_no_tax_entry(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        txn = txn_of(client, paid_charge(emu, client, 2000))
        assert [f.type for f in txn.fee_details] == ["stripe_fee"]

    def test_charge_fee_splits_into_fee_and_tax(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(fee_tax_percent="20")
        txn = txn_of(client, paid_charge(emu, client, 2000))
        parts = [(f.type, f.description, f.amount, f.currency) for f in txn.fee_details]
        assert parts == [
            ("stripe_fee", "Stripe processing fees", 88, "usd"),
            ("tax", "VAT", 18, "usd"),  # 20 % of 88 = 17.6, half-up
        ]
        assert (txn.fee, txn.net) == (106, 2000 - 106)

    @pytest.mark.parametrize(("rounding", "tax"), [("ROUND_HALF_UP", 30), ("ROUND_DOWN", 29)])
    def test_tax_rounds_with_the_fee_rounding_mode(
        self, emu: EmulatorServer, client: stripe.StripeClient, rounding: str, tax: int
    ) -> None:
        emu.configure(fee_tax_percent="50", fee_rounding=rounding, fee_tax_description="GST")
        txn = txn_of(client, paid_charge(emu, client, 1000))  # fee 29 + 30 = 59, tax 29.5
        assert [(f.description, f.amount) for f in txn.fee_details] == [
            ("Stripe processing fees", 59),
            ("GST", tax),
        ]
        assert txn.fee == 59 + tax

    def test_dispute_fees_are_taxed_and_returned_with_their_tax(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(fee_tax_percent="20")
        charge_id = paid_charge(emu, client, 2000)["charge"]["id"]
        dispute = emu.dispute(charge_id)
        withdrawal = dispute["balance_transactions"][0]
        assert [(f["type"], f["amount"]) for f in withdrawal["fee_details"]] == [
            ("stripe_fee", 1500),
            ("tax", 300),
        ]
        assert (withdrawal["fee"], withdrawal["net"]) == (1800, -3800)
        won = client.v1.disputes.update(
            dispute["id"], params={"evidence": {"uncategorized_text": "winning_evidence"}}
        )
        reversal = won.balance_transactions[1]
        assert [(f.type, f.amount) for f in reversal.fee_details] == [
            ("stripe_fee", -1500),
            ("tax", -300),
        ]
        assert (reversal.fee, reversal.net) == (-1800, 2000 + 1800)

    def test_invalid_tax_setting_is_refused(self, emu: EmulatorServer) -> None:
        for bad in ("-1", "abc", 1.5):
            with pytest.raises(EmulatorError) as caught:
                emu.configure(fee_tax_percent=bad)
            assert caught.value.status == 400
        assert emu.configure()["fee_tax_percent"] == "0"


class TestSettlementCurrency:
    def test_default_settles_every_currency_as_charged(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        txn = txn_of(client, paid_charge(emu, client, 1000, "eur"))
        assert (txn.currency, txn.amount, txn.exchange_rate) == ("eur", 1000, None)

    @pytest.mark.parametrize(
        ("currency", "amount", "rate", "settled"),
        [
            ("eur", 1000, "1.0842", 1084),  # 10.00 EUR x 1.0842 = 10.842 USD -> 1084 cents
            ("eur", 1005, "1.1", 1106),  # 11.055 USD: half-up to 1106
            ("jpy", 1000, "0.0067", 670),  # zero-decimal: 1000 JPY = 6.70 USD
            ("kwd", 5120, "3.2589", 1669),  # three-decimal: 5.120 KWD = 16.6856 USD
        ],
    )
    def test_charge_converts_into_the_default_currency(
        self,
        emu: EmulatorServer,
        client: stripe.StripeClient,
        currency: str,
        amount: int,
        rate: str,
        settled: int,
    ) -> None:
        emu.configure(settlement_currencies=["usd"], exchange_rates={currency: rate})
        result = paid_charge(emu, client, amount, currency)
        assert (result["charge"]["amount"], result["charge"]["currency"]) == (amount, currency)
        txn = txn_of(client, result)
        assert (txn.currency, txn.amount) == ("usd", settled)
        assert txn.exchange_rate == float(rate)
        assert (txn.fee, txn.net) == (processing(settled), settled - processing(settled))
        assert {f.currency for f in txn.fee_details} == {"usd"}

    @pytest.mark.parametrize(
        ("default", "rate", "settled"),
        [("jpy", "150.255", 1504), ("kwd", "0.3068", 3068)],  # 10.01 USD; 10.00 USD
    )
    def test_conversion_into_zero_and_three_decimal_currencies(
        self,
        emu: EmulatorServer,
        client: stripe.StripeClient,
        default: str,
        rate: str,
        settled: int,
    ) -> None:
        emu.configure(
            default_currency=default,
            settlement_currencies=[default],
            exchange_rates={"usd": rate},
            fees={"default": {"percent": "0", "fixed": 0}},
        )
        amount = 1001 if default == "jpy" else 1000
        txn = txn_of(client, paid_charge(emu, client, amount, "usd"))
        assert (txn.currency, txn.amount, txn.fee) == (default, settled, 0)

    def test_refunds_and_disputes_convert_at_the_rate_then_configured(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(settlement_currencies=["usd"], exchange_rates={"eur": "1.10"})
        charge_id = paid_charge(emu, client, 2000, "eur")["charge"]["id"]
        other_id = paid_charge(emu, client, 3000, "eur")["charge"]["id"]
        emu.configure(exchange_rates={"eur": "1.20"})
        refund = client.v1.refunds.create(params={"charge": charge_id, "amount": 1000})
        assert (refund.amount, refund.currency) == (1000, "eur")
        refund_txn = client.v1.balance_transactions.retrieve(str(refund.balance_transaction))
        assert (refund_txn.currency, refund_txn.amount, refund_txn.exchange_rate) == (
            "usd", -1200, 1.2,
        )  # fmt: skip
        dispute = emu.dispute(other_id)
        assert (dispute["amount"], dispute["currency"]) == (3000, "eur")
        withdrawal = dispute["balance_transactions"][0]
        assert (withdrawal["currency"], withdrawal["amount"], withdrawal["fee"]) == (
            "usd", -3600, 1500,
        )  # fmt: skip
        assert withdrawal["exchange_rate"] == 1.2
        emu.configure(exchange_rates={"eur": "1.25"})
        won = emu.close_dispute(dispute["id"], "won")
        assert won["balance_transactions"][1]["amount"] == 3750

    def test_balance_and_payouts_hold_only_the_settlement_currency(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(
            settlement_currencies=["usd", "gbp"],
            exchange_rates={"eur": "1.10", "jpy": "0.0067"},
        )
        settled = [
            txn_of(client, paid_charge(emu, client, amount, currency))
            for amount, currency in ((1000, "eur"), (5000, "jpy"), (1000, "usd"), (1000, "gbp"))
        ]
        assert [t.currency for t in settled] == ["usd", "usd", "usd", "gbp"]
        balance = client.v1.balance.retrieve()
        assert sorted((b.currency, b.amount) for b in balance.available) == [
            ("gbp", settled[3].net),
            ("usd", sum(t.net for t in settled[:3])),
        ]
        payouts = emu.payout()
        assert sorted((p["currency"], p["amount"]) for p in payouts) == sorted(
            (b.currency, b.amount) for b in balance.available
        )

    def test_missing_rate_fails_before_any_charge(
        self, emu: EmulatorServer, client: stripe.StripeClient
    ) -> None:
        emu.configure(settlement_currencies=["usd"])
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.payment_intents.create(
                params={
                    "amount": 1000,
                    "currency": "eur",
                    "payment_method": "pm_card_visa",
                    "confirm": True,
                }
            )
        assert client.v1.charges.list().data == []
        with pytest.raises(EmulatorError) as bad:
            emu.configure(exchange_rates={"eur": "0"})
        assert bad.value.status == 400
