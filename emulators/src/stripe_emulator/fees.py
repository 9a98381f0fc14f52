"""Stripe's own fees on balance transactions, computed exactly, with the tax on them.

Processing fee = round(amount x percent / 100) + fixed, in minor units, with `Decimal` and the
configured rounding mode (ROUND_HALF_UP by default: the emulator's reading of "rounded to the
nearest minor unit"; Stripe does not publish its tie-breaking rule). The rule for a currency
comes from `config.fees[currency]`, else `config.fees["default"]`. Refunds and payouts carry
no fee (Stripe keeps card processing fees on refunds).

Tax on fees: where Stripe charges VAT/GST on its fees, a balance transaction's `fee_details`
holds the fee (`stripe_fee`) and the tax on it (`tax`) as separate entries and `fee` is their
sum (`fee_details[].type` is one of `application_fee`, `payment_method_passthrough_fee`,
`stripe_fee`, `tax`, `withheld_tax`: stripe-python 16.1.0 `_balance_transaction.py`,
`FeeDetail.type`). With `fee_tax_percent` > 0 every fee (processing, dispute, dispute
countered) gets tax = round(fee x fee_tax_percent / 100), rounded to the minor unit with the
same `fee_rounding` mode, added on top of the fee. A returned fee is the negated `Fee`
("Represented as a positive integer when assessed", `BalanceTransaction.fee` in the SDK).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

from .config import EmulatorConfig

PROCESSING = "Stripe processing fees"


@dataclass(frozen=True)
class Fee:
    """A balance transaction's `fee` and `fee_details`, kept together so they always agree."""

    details: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def total(self) -> int:
        return sum(int(part["amount"]) for part in self.details)

    def fee_details(self) -> list[dict[str, Any]]:
        return [dict(part) for part in self.details]

    def negated(self) -> Fee:
        """The same fee given back (negative amounts)."""
        return Fee(tuple({**part, "amount": -int(part["amount"])} for part in self.details))

    def __add__(self, other: Fee) -> Fee:
        return Fee(self.details + other.details)


NO_FEE = Fee()


def _round(config: EmulatorConfig, value: Decimal) -> int:
    rounding = getattr(decimal, config.fee_rounding, decimal.ROUND_HALF_UP)
    return int(value.quantize(Decimal(1), rounding=rounding))


def compute_fee(config: EmulatorConfig, amount: int, currency: str) -> int:
    """Processing fee in minor units (before tax) for a charge of `amount` (>= 0)."""
    rule = config.fees.get(currency) or config.fees["default"]
    return _round(config, Decimal(amount) * rule.percent / Decimal(100)) + rule.fixed


def stripe_fee(config: EmulatorConfig, amount: int, currency: str, description: str) -> Fee:
    """A Stripe fee of `amount` minor units plus the configured tax on it."""
    if amount == 0:
        return NO_FEE
    parts: list[dict[str, Any]] = [_part(amount, currency, description, "stripe_fee")]
    tax = _round(config, Decimal(amount) * Decimal(config.fee_tax_percent) / Decimal(100))
    if tax:
        parts.append(_part(tax, currency, config.fee_tax_description, "tax"))
    return Fee(tuple(parts))


def processing_fee(config: EmulatorConfig, amount: int, currency: str) -> Fee:
    """The fee on a charge of `amount` settled in `currency`."""
    return stripe_fee(config, compute_fee(config, amount, currency), currency, PROCESSING)


def _part(amount: int, currency: str, description: str, type_: str) -> dict[str, Any]:
    return {
        "amount": amount,
        "application": None,
        "currency": currency,
        "description": description,
        "type": type_,
    }
