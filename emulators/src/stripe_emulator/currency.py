"""Currency rules from stripe-api.md §13, implemented inside the emulator.

Emulators never import product code, so the zero-decimal and three-decimal tables, the
three-decimal "last digit must be 0" rule, the ISK "divisible by 100" rule and the minimum
charge amounts live here. The supported-currency list is the emulator's own table (the
ISO codes Stripe lists for card payments); an unknown code gets Stripe's `Invalid currency`
error. Where the reference marks a rule as unverified (UGX, three-decimal invoicing) the
emulator applies the documented reading and says so.
"""

from __future__ import annotations

from decimal import Decimal

from .errors import StripeError
from .errors import param_invalid

_ZERO_DECIMAL_CODES = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf"
_THREE_DECIMAL_CODES = "bhd jod kwd omr tnd"
_SUPPORTED_CODES = """
usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp
byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip
gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt
lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr
nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd
std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar
zmw
"""

ZERO_DECIMAL = frozenset(_ZERO_DECIMAL_CODES.split())
THREE_DECIMAL = frozenset(_THREE_DECIMAL_CODES.split())
# Two-decimal in the API but charges must be whole units (stripe-api.md §13, special cases).
WHOLE_UNITS_ONLY = frozenset({"isk"})
SUPPORTED = frozenset(_SUPPORTED_CODES.split())

# Minimum charge amounts in minor units (stripe-api.md §13 table).
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip

MAXIMUM_CHARGE = 99_999_999


def exponent(currency: str) -> int:
    """Number of minor-unit digits: 0, 2 or 3."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount: int, currency: str) -> str:
    """Human-readable amount for error messages ("0.50 usd")."""
    digits = exponent(currency)
    value = Decimal(amount).scaleb(-digits)
    return f"{value:.{digits}f} {currency}"


def validate_currency(value: str, param: str = "currency") -> str:
    """Lowercased supported currency, or Stripe's invalid-currency error."""
    code = value.lower()
    if code not in SUPPORTED:
        raise param_invalid(
            param,
            f"Invalid currency: {value}. Stripe currently supports these currencies: "
            + ", ".join(sorted(SUPPORTED)),
        )
    return code


def validate_charge_amount(amount: int, currency: str, param: str = "amount") -> None:
    """Rules for amounts that move money (charges, PaymentIntents, refunds)."""
    minimum = MINIMUM_CHARGE.get(currency, 1)
    if amount < minimum:
        raise StripeError(
            400,
            f"Amount must be at least {format_amount(minimum, currency)}",
            code="amount_too_small",
            param=param,
        )
    if amount > MAXIMUM_CHARGE:
        raise StripeError(
            400,
            f"Amount must be no more than {format_amount(MAXIMUM_CHARGE, currency)}",
            code="amount_too_large",
            param=param,
        )
    validate_amount_granularity(amount, currency, param)


def validate_amount_granularity(amount: int, currency: str, param: str = "amount") -> None:
    """Three-decimal amounts must end in 0; ISK amounts must be whole krónur."""
    if currency in THREE_DECIMAL and amount % 10 != 0:
        raise StripeError(
            400,
            f"Invalid amount for {currency.upper()}: three-decimal currencies require the last "
            "digit to be 0 (round to the nearest ten minor units).",
            code="invalid_charge_amount",
            param=param,
        )
    if currency in WHOLE_UNITS_ONLY and amount % 100 != 0:
        raise StripeError(
            400,
            f"Invalid amount for {currency.upper()}: amounts must be divisible by 100.",
            code="invalid_charge_amount_no_decimal_compatible",
            param=param,
        )
