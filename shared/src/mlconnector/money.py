"""Exact conversion between decimal amounts and Stripe's integer minor units, per currency.

Business Central keeps amounts as decimals; Stripe's wire format is an integer count of the
currency's minor unit. Every amount crossing that boundary goes through ``to_minor`` or
``from_minor``, which are exact in both directions or raise ``MoneyError``: the connector never
rounds money silently. Rounding is a business decision the caller makes first (e.g. with
``Decimal.quantize``).

Two exponents are kept per currency because they differ. ``iso_exponent`` is ISO 4217's number
of decimals; ``exponent`` is the one Stripe's API uses, and it is what the conversions use since
minor units are Stripe's wire format. ISK is ISO 0 but two-decimal in Stripe's API (amounts must
be divisible by 100); MGA is ISO 2 but on Stripe's zero-decimal list. Stripe adds charge rules on
top: three-decimal currencies (BHD, JOD, KWD, OMR, TND) take only amounts whose last digit is 0,
and ISK only whole kronur. ``to_stripe_charge_minor`` and ``check_charge_amount`` apply those.

Floats are refused everywhere: ``0.1`` has no exact binary value, so a float that reached this
module has already lost the amount. Ints are refused by ``to_minor`` too, because an int handed
to it is as likely to be minor units already as major units, and guessing wrong is a factor of
100. The tables are the project's own data, taken from the team's Stripe reference
(stripe-api.md, "Amounts and currencies").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final


class MoneyError(ValueError):
    """An amount or currency that cannot be converted exactly; the message names both."""


@dataclass(frozen=True, slots=True)
class CurrencyRules:
    """What the connector knows about one currency Stripe charges in.

    ``charge_step`` and ``payout_step`` are the divisors Stripe requires of minor amounts for
    charges/refunds and for payouts; ``minimum_charge`` is in minor units, ``None`` if unknown.
    """

    code: str
    exponent: int
    iso_exponent: int
    charge_step: int = 1
    payout_step: int = 1
    minimum_charge: int | None = None


def _codes(text: str) -> frozenset[str]:
    """A set of currency codes written as whitespace-separated text, for compact tables."""
    return frozenset(text.split())


# Stripe's supported presentment currencies, lowercase as on the wire. ANG and STD are kept as
# Stripe lists them even though ISO 4217 has successors (XCG, STN).
_SUPPORTED: Final = _codes(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp
    byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel
    gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd
    kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn
    nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd
    shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx usd uyu uzs vnd vuv wst
    xaf xcd xof xpf yer zar zmw
    """
)

#: Stripe's zero-decimal currencies: the amount is in whole units.
ZERO_DECIMAL: Final = _codes("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf")
#: Stripe's three-decimal currencies: charge and refund amounts must end in 0.
THREE_DECIMAL: Final = _codes("bhd jod kwd omr tnd")

# ISO 4217 exponents among the supported currencies; every other one is 2.
_ISO_ZERO: Final = _codes("bif clp djf gnf isk jpy kmf krw pyg rwf ugx vnd vuv xaf xof xpf")
_ISO_THREE: Final = _codes("bhd jod kwd omr tnd")

# ISK: two-decimal in the API but whole kronur only since 2023-04-14
# (invalid_charge_amount_no_decimal_compatible). HUF and TWD charge two-decimal amounts but pay
# out whole units only.
_CHARGE_STEP: Final = {"isk": 100, **{c: 10 for c in THREE_DECIMAL}}
_PAYOUT_STEP: Final = {"huf": 100, "twd": 100}

# Minimum charge amounts in minor units, for the currencies whose minimum the reference lists.
_MINIMUM_CHARGE: Final = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip

# No real amount comes near this many minor units, and an unbounded exponent
# (Decimal("1E+999999999") from a parsed payload) would otherwise build a gigantic integer.
MAX_MINOR_DIGITS: Final = 40


def _build_table() -> Mapping[str, CurrencyRules]:
    table: dict[str, CurrencyRules] = {}
    for code in sorted(_SUPPORTED):
        exponent = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
        iso = 0 if code in _ISO_ZERO else 3 if code in _ISO_THREE else 2
        charge_step = _CHARGE_STEP.get(code, 1)
        table[code] = CurrencyRules(
            code=code,
            exponent=exponent,
            iso_exponent=iso,
            charge_step=charge_step,
            # Payouts follow the charge step unless Stripe documents a coarser one.
            payout_step=max(charge_step, _PAYOUT_STEP.get(code, 1)),
            minimum_charge=_MINIMUM_CHARGE.get(code),
        )
    return MappingProxyType(table)


#: Every supported currency, keyed by lowercase code.
CURRENCIES: Final = _build_table()


def _show_currency(currency: object) -> str:
    if isinstance(currency, str) and currency.lower() in CURRENCIES:
        return currency.upper()
    return repr(currency)


def _show_amount(amount: object) -> str:
    if isinstance(amount, Decimal | int) and not isinstance(amount, bool):
        return str(amount)
    return f"{amount!r} ({type(amount).__name__})"


def _lookup(currency: object, amount: object) -> CurrencyRules:
    rules = CURRENCIES.get(currency.lower()) if isinstance(currency, str) else None
    if rules is None:
        raise MoneyError(
            f"unknown currency {currency!r} for amount {_show_amount(amount)}: "
            "not a currency Stripe supports"
        )
    return rules


def rules(currency: str) -> CurrencyRules:
    """Return the rules for ``currency`` (any case); ``MoneyError`` if it is unknown."""
    if not isinstance(currency, str) or currency.lower() not in CURRENCIES:
        raise MoneyError(f"unknown currency {currency!r}: not a currency Stripe supports")
    return CURRENCIES[currency.lower()]


def normalize_currency(currency: str) -> str:
    """Return ``currency`` in Stripe's wire form (lowercase); ``MoneyError`` if unknown."""
    return rules(currency).code


def exponent(currency: str) -> int:
    """Decimals of ``currency`` in Stripe's API: the exponent of its minor unit."""
    return rules(currency).exponent


def iso_exponent(currency: str) -> int:
    """Decimals of ``currency`` according to ISO 4217."""
    return rules(currency).iso_exponent


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert a decimal amount to Stripe minor units, exactly, or raise ``MoneyError``.

    Trailing zeros and negative amounts (refunds, credit lines) are fine; a digit below the
    currency's minor unit is not: ``to_minor(Decimal("10.005"), "usd")`` raises.
    """
    if not isinstance(amount, Decimal):
        if isinstance(amount, float):
            why = "a float has already lost the exact amount"
        elif isinstance(amount, int) and not isinstance(amount, bool):
            why = "an int may already be minor units; use from_minor or Decimal(n)"
        else:
            why = "pass a Decimal"
        raise MoneyError(
            f"amount {amount!r} ({type(amount).__name__}) {_show_currency(currency)} refused: "
            f"to_minor takes a Decimal ({why})"
        )
    rule = _lookup(currency, amount)
    label = f"{amount} {rule.code.upper()}"
    if not amount.is_finite():
        raise MoneyError(f"amount {label} is not a finite number")
    sign, digits, exp = amount.as_tuple()
    if not any(digits):
        return 0
    if amount.adjusted() + rule.exponent >= MAX_MINOR_DIGITS:
        raise MoneyError(f"amount {label} is too large (over {MAX_MINOR_DIGITS} digits)")
    assert isinstance(exp, int)  # finite, so the exponent is a number
    # Integer arithmetic on the digits needs no decimal context and cannot round.
    shift = exp + rule.exponent
    if shift < 0:
        dropped = digits[shift:] if -shift <= len(digits) else digits
        if any(dropped):
            raise MoneyError(
                f"cannot represent {label} exactly in minor units ({rule.exponent} decimals)"
            )
        digits, shift = digits[:shift], 0
    magnitude = int(Decimal((0, digits, 0))) * 10**shift if digits else 0
    return -magnitude if sign else magnitude


def from_minor(minor: int, currency: str) -> Decimal:
    """Convert Stripe minor units to a Decimal with exactly the currency's decimals.

    ``from_minor(1050, "usd")`` is ``Decimal("10.50")``; ``from_minor(5, "jpy")`` is
    ``Decimal("5")``.
    """
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise MoneyError(
            f"minor amount {_show_amount(minor)} {_show_currency(currency)} refused: "
            "from_minor takes an int count of minor units"
        )
    rule = _lookup(currency, minor)
    if abs(minor) >= 10**MAX_MINOR_DIGITS:
        raise MoneyError(
            f"minor amount {minor} {rule.code.upper()} is too large "
            f"(over {MAX_MINOR_DIGITS} digits)"
        )
    sign, digits, _ = Decimal(minor).as_tuple()
    return Decimal((sign, digits, -rule.exponent))


def _check_step(minor: int, rule: CurrencyRules, shown: str) -> None:
    if minor % rule.charge_step:
        why = (
            "three-decimal currency: the last digit must be 0"
            if rule.code in THREE_DECIMAL
            else "only whole units are accepted"
        )
        raise MoneyError(
            f"{shown} is not chargeable through Stripe: {minor} minor units must be a "
            f"multiple of {rule.charge_step} ({why})"
        )


def to_stripe_charge_minor(amount: Decimal, currency: str) -> int:
    """Like ``to_minor``, but also refuse amounts Stripe rejects in charges and refunds.

    Enforces the charge step (``1.234`` KWD raises, ``1.230`` KWD is 1230; ISK whole kronur).
    It does not check the minimum charge: that applies to a whole payment, not to each refund
    or line; use ``check_charge_amount`` on the total.
    """
    minor = to_minor(amount, currency)
    rule = _lookup(currency, amount)
    _check_step(minor, rule, f"{amount} {rule.code.upper()}")
    return minor


def check_charge_amount(minor: int, currency: str) -> int:
    """Return ``minor`` if Stripe can charge it in ``currency``, else raise ``MoneyError``.

    Checks that it is a positive int, a multiple of the charge step and, where the minimum is
    known, at least the minimum charge amount.
    """
    shown = format_amount(minor, currency)  # validates the type and the currency
    rule = _lookup(currency, minor)
    if minor <= 0:
        raise MoneyError(f"{shown} is not chargeable through Stripe: amount must be positive")
    _check_step(minor, rule, shown)
    if rule.minimum_charge is not None and minor < rule.minimum_charge:
        minimum = format_amount(rule.minimum_charge, currency)
        raise MoneyError(
            f"{shown} is below Stripe's minimum charge of {minimum} ({rule.minimum_charge} "
            "minor units)"
        )
    return minor


def format_amount(minor: int, currency: str) -> str:
    """Render minor units for people and logs: ``format_amount(1050, "usd")`` is ``10.50 USD``."""
    return f"{from_minor(minor, currency)} {normalize_currency(currency).upper()}"
