"""Which currency money settles in, and the conversion into it.

Stripe settles a charge whose currency the account cannot settle in into the account's default
currency; the balance transaction is then in that currency and carries the rate. Stripe's
definition (stripe-python 16.1.0 `_balance_transaction.py`, `exchange_rate`): "If money converts
from currency A to currency B, then the `amount` in currency A, multiplied by the
`exchange_rate`, equals the `amount` in currency B" (10.00 EUR -> 12.34 USD has rate 1.234), so
the rate applies to major units.

Emulator settings: `settlement_currencies` (empty = every currency settles as charged, which is
the default) and `exchange_rates` (`{"eur": "1.0842"}`: one unit of that currency in units of
`default_currency`). Conversion goes through major units with each currency's own exponent
(JPY 0, USD 2, KWD 3 digits, `currency.exponent`) and rounds half-up to an integer number of the
settlement currency's minor units. Refunds and disputes of a converted charge settle in the
currency the charge settled in, at the rate configured when they happen (Stripe converts each
at its own time; the emulator's stand-in for "the rate of the day").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal

from .config import EmulatorConfig
from .currency import exponent
from .errors import StripeError


@dataclass(frozen=True)
class Settled:
    """An amount in the currency it settles in, and the rate used (None: no conversion)."""

    amount: int
    currency: str
    exchange_rate: Decimal | None


def settlement_currency(config: EmulatorConfig, currency: str) -> str:
    """The currency a charge in `currency` settles in."""
    if not config.settlement_currencies or currency in config.settlement_currencies:
        return currency
    return config.default_currency


def convert(config: EmulatorConfig, amount: int, currency: str, into: str) -> Settled:
    """`amount` minor units of `currency` expressed in `into` at the configured rate."""
    if currency == into:
        return Settled(amount, into, None)
    raw = config.exchange_rates.get(currency)
    if raw is None:
        raise StripeError(
            400,
            f"No exchange rate from {currency} to {into} is configured in the emulator "
            f"(setting exchange_rates).",
            code="emulator_exchange_rate_missing",
        )
    rate = Decimal(raw)
    major = Decimal(amount).scaleb(-exponent(currency)) * rate
    minor = major.scaleb(exponent(into)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Settled(int(minor), into, rate)


def settle(config: EmulatorConfig, amount: int, currency: str) -> Settled:
    """A new charge's amount in its settlement currency."""
    return convert(config, amount, currency, settlement_currency(config, currency))
