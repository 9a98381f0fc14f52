"""Processing fees for charge balance transactions, computed exactly.

fee = round(amount x percent / 100) + fixed, in minor units, with `Decimal` and the configured
rounding mode (ROUND_HALF_UP by default: the emulator's reading of "rounded to the nearest
minor unit"; Stripe does not publish its tie-breaking rule). The rule for a currency comes
from `config.fees[currency]`, else `config.fees["default"]`. Refunds and payouts carry no fee
(Stripe keeps card processing fees on refunds).
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

from .config import EmulatorConfig


def compute_fee(config: EmulatorConfig, amount: int, currency: str) -> int:
    """Fee in minor units for a charge of `amount` (>= 0) in `currency`."""
    rule = config.fees.get(currency) or config.fees["default"]
    rounding = getattr(decimal, config.fee_rounding, decimal.ROUND_HALF_UP)
    percent_part = (Decimal(amount) * rule.percent / Decimal(100)).quantize(
        Decimal(1), rounding=rounding
    )
    return int(percent_part) + rule.fixed


def fee_details(fee: int, currency: str) -> list[dict[str, Any]]:
    """The `fee_details` array of a balance transaction."""
    if fee == 0:
        return []
    return [
        {
            "amount": fee,
            "application": None,
            "currency": currency,
            "description": "Stripe processing fees",
            "type": "stripe_fee",
        }
    ]
