"""Tests for mlconnector.money: exact decimal <-> minor-unit conversion for Stripe currencies."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from decimal import Inexact
from decimal import Rounded
from decimal import localcontext

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from mlconnector import money
from mlconnector.money import MoneyError

# Copied by hand from the team's Stripe reference (stripe-api.md, "Amounts and currencies"), so a
# change to the module's tables has to be a deliberate change here too.
REFERENCE_ZERO_DECIMAL = [
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
    "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
]  # fmt: skip
REFERENCE_THREE_DECIMAL = ["BHD", "JOD", "KWD", "OMR", "TND"]
REFERENCE_MINIMUM_CHARGE = {
    "USD": 50, "AED": 200, "AUD": 50, "BGN": 100, "BRL": 50, "CAD": 50, "CHF": 50,
    "CZK": 1500, "DKK": 250, "EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17500, "INR": 50,
    "JPY": 50, "MXN": 1000, "MYR": 200, "NOK": 300, "NZD": 50, "PLN": 200, "RON": 200,
    "SEK": 300, "SGD": 50, "THB": 1000,
}  # fmt: skip

ALL_CODES = sorted(money.CURRENCIES)
LIMIT = 10**money.MAX_MINOR_DIGITS - 1

# Moderate example counts: the whole file should run in a few seconds on a shared machine.
PROPERTY = settings(max_examples=300, deadline=None, database=None)

currencies = st.sampled_from(ALL_CODES)
minor_units = st.integers(min_value=-LIMIT, max_value=LIMIT)


def _random_case(code: str, flips: list[bool]) -> str:
    return "".join(ch.upper() if flip else ch for ch, flip in zip(code, flips, strict=True))


def _one_digit_too_many(currency: str, units: int) -> Decimal:
    """An amount with one more decimal than ``currency`` allows, the extra digit non-zero."""
    sign, digits, _ = Decimal(units).as_tuple()
    return Decimal((sign, digits, -(money.exponent(currency) + 1)))


class TestTables:
    def test_zero_decimal_list_matches_the_reference_exactly(self) -> None:
        assert {c.lower() for c in REFERENCE_ZERO_DECIMAL} == money.ZERO_DECIMAL

    def test_three_decimal_list_matches_the_reference_exactly(self) -> None:
        assert {c.lower() for c in REFERENCE_THREE_DECIMAL} == money.THREE_DECIMAL

    def test_minimum_charges_match_the_reference(self) -> None:
        known = {r.code: r.minimum_charge for r in money.CURRENCIES.values() if r.minimum_charge}
        assert known == {c.lower(): v for c, v in REFERENCE_MINIMUM_CHARGE.items()}

    def test_every_listed_currency_is_a_supported_lowercase_code(self) -> None:
        listed = money.ZERO_DECIMAL | money.THREE_DECIMAL | {"isk", "huf", "twd", "usd", "eur"}
        assert listed <= set(money.CURRENCIES)
        assert not money.ZERO_DECIMAL & money.THREE_DECIMAL
        for code, rules in money.CURRENCIES.items():
            assert rules.code == code
            assert len(code) == 3
            assert code.isascii()
            assert code.isalpha()
            assert code.islower()

    @pytest.mark.parametrize("code", ALL_CODES)
    def test_api_exponent_follows_stripe_lists(self, code: str) -> None:
        expected = 0 if code in money.ZERO_DECIMAL else 3 if code in money.THREE_DECIMAL else 2
        assert money.exponent(code) == expected

    def test_iso_and_api_exponents_differ_only_for_isk_and_mga(self) -> None:
        differ = {c for c, r in money.CURRENCIES.items() if r.exponent != r.iso_exponent}
        assert differ == {"isk", "mga"}
        assert (money.iso_exponent("ISK"), money.exponent("ISK")) == (0, 2)
        assert (money.iso_exponent("MGA"), money.exponent("MGA")) == (2, 0)
        assert (money.iso_exponent("UGX"), money.exponent("UGX")) == (0, 0)
        assert (money.iso_exponent("KWD"), money.exponent("KWD")) == (3, 3)

    def test_charge_and_payout_steps(self) -> None:
        steps = {c: r.charge_step for c, r in money.CURRENCIES.items() if r.charge_step != 1}
        assert steps == {"isk": 100, "bhd": 10, "jod": 10, "kwd": 10, "omr": 10, "tnd": 10}
        assert money.rules("HUF").payout_step == 100
        assert money.rules("TWD").payout_step == 100
        assert money.rules("HUF").charge_step == 1
        assert money.rules("USD").payout_step == 1


class TestToMinor:
    @pytest.mark.parametrize(
        ("amount", "currency", "expected"),
        [
            ("10.50", "usd", 1050),
            ("10.5", "usd", 1050),
            ("10.500000", "usd", 1050),
            ("1E+1", "usd", 1000),
            ("-10.50", "usd", -1050),
            ("0", "usd", 0),
            ("-0.000", "usd", 0),
            ("5", "jpy", 5),
            ("5.000", "jpy", 5),
            ("1.234", "kwd", 1234),
            ("1.5", "isk", 150),
            ("1000000000000000000000000000000", "usd", 10**32),
            ("123456789012345678901234567.89", "eur", 12345678901234567890123456789),
        ],
    )
    def test_exact_amounts_convert(self, amount: str, currency: str, expected: int) -> None:
        assert money.to_minor(Decimal(amount), currency) == expected

    @pytest.mark.parametrize(
        ("amount", "currency"),
        [("10.005", "USD"), ("1.5", "JPY"), ("0.0001", "KWD"), ("-0.001", "USD"), ("1E-30", "EUR")],
    )
    def test_inexact_amounts_raise_naming_amount_and_currency(
        self, amount: str, currency: str
    ) -> None:
        with pytest.raises(MoneyError, match="cannot represent") as caught:
            money.to_minor(Decimal(amount), currency)
        assert amount in str(caught.value)
        assert currency in str(caught.value)

    def test_result_does_not_depend_on_the_decimal_context(self) -> None:
        with localcontext() as ctx:
            ctx.prec = 3
            ctx.traps[Inexact] = True
            ctx.traps[Rounded] = True
            assert money.to_minor(Decimal("123456789.12"), "usd") == 12345678912
            assert str(money.from_minor(12345678912, "usd")) == "123456789.12"

    @pytest.mark.parametrize("amount", ["NaN", "-Infinity", "Infinity", "sNaN"])
    def test_non_finite_amounts_raise(self, amount: str) -> None:
        with pytest.raises(MoneyError, match="not a finite number"):
            money.to_minor(Decimal(amount), "usd")

    def test_absurdly_large_amount_raises_instead_of_building_a_huge_integer(self) -> None:
        with pytest.raises(MoneyError, match="too large"):
            money.to_minor(Decimal("1E+999999999"), "usd")
        assert money.to_minor(Decimal("0E+999999999"), "usd") == 0

    @pytest.mark.parametrize("amount", [10.5, 10, True, "10.50", None])
    def test_non_decimal_amounts_are_refused(self, amount: object) -> None:
        with pytest.raises(MoneyError, match="takes a Decimal") as caught:
            money.to_minor(amount, "usd")  # type: ignore[arg-type]
        assert repr(amount) in str(caught.value)
        assert "USD" in str(caught.value)

    def test_float_message_names_the_float(self) -> None:
        with pytest.raises(MoneyError, match=r"0\.1 \(float\) USD"):
            money.to_minor(0.1, "usd")  # type: ignore[arg-type]


class TestFromMinor:
    @pytest.mark.parametrize(
        ("minor", "currency", "text"),
        [
            (1050, "USD", "10.50"),
            (0, "usd", "0.00"),
            (-1050, "usd", "-10.50"),
            (5, "JPY", "5"),
            (1234, "kwd", "1.234"),
            (150, "isk", "1.50"),
            (10**32, "usd", "1000000000000000000000000000000.00"),
        ],
    )
    def test_result_is_exact_and_quantized(self, minor: int, currency: str, text: str) -> None:
        result = money.from_minor(minor, currency)
        assert result == Decimal(text)
        assert str(result) == text

    @pytest.mark.parametrize("minor", [10.5, 1050.0, True, Decimal("1050"), "1050"])
    def test_non_int_minor_units_are_refused(self, minor: object) -> None:
        with pytest.raises(MoneyError, match="takes an int") as caught:
            money.from_minor(minor, "usd")  # type: ignore[arg-type]
        assert str(minor) in str(caught.value)
        assert "USD" in str(caught.value)

    def test_absurdly_large_minor_amount_raises(self) -> None:
        # Beyond the default 28-digit context, still exact.
        assert str(money.from_minor(LIMIT, "usd")) == "9" * 38 + ".99"
        with pytest.raises(MoneyError, match="too large"):
            money.from_minor(LIMIT + 1, "usd")

    def test_format_amount(self) -> None:
        assert money.format_amount(1050, "usd") == "10.50 USD"
        assert money.format_amount(-5, "JPY") == "-5 JPY"
        assert money.format_amount(1230, "Kwd") == "1.230 KWD"


class TestCurrencyCodes:
    @pytest.mark.parametrize("code", ["usd", "USD", "Usd", "uSd"])
    def test_codes_are_case_insensitive(self, code: str) -> None:
        assert money.normalize_currency(code) == "usd"
        assert money.to_minor(Decimal("10.50"), code) == 1050
        assert money.from_minor(1050, code) == Decimal("10.50")
        assert money.exponent(code) == 2

    @pytest.mark.parametrize("code", ["XYZ", "", "usdx", " usd", "us", "usd\n"])
    def test_unknown_currency_raises_naming_amount_and_currency(self, code: str) -> None:
        with pytest.raises(MoneyError, match="unknown currency") as caught:
            money.to_minor(Decimal("12.34"), code)
        assert repr(code) in str(caught.value)
        assert "12.34" in str(caught.value)
        with pytest.raises(MoneyError, match="unknown currency") as caught:
            money.from_minor(1234, code)
        assert repr(code) in str(caught.value)
        assert "1234" in str(caught.value)
        with pytest.raises(MoneyError, match="unknown currency"):
            money.normalize_currency(code)

    def test_non_string_currency_raises(self) -> None:
        with pytest.raises(MoneyError, match="unknown currency None"):
            money.to_minor(Decimal("1"), None)  # type: ignore[arg-type]

    def test_money_error_is_a_value_error(self) -> None:
        assert issubclass(MoneyError, ValueError)


class TestIssueExamples:
    """Each example named in the issue raises MoneyError naming the amount and the currency."""

    @pytest.mark.parametrize(
        ("call", "amount_text", "currency_text"),
        [
            (lambda: money.to_minor(Decimal("10.005"), "usd"), "10.005", "USD"),
            (lambda: money.to_minor(Decimal("1.5"), "JPY"), "1.5", "JPY"),
            (lambda: money.to_stripe_charge_minor(Decimal("1.234"), "KWD"), "1.234", "KWD"),
            (lambda: money.to_minor(Decimal("1.00"), "XYZ"), "1.00", "'XYZ'"),
            (lambda: money.to_minor(10.5, "usd"), "10.5", "USD"),  # type: ignore[arg-type]
            (lambda: money.from_minor(10.5, "usd"), "10.5", "USD"),  # type: ignore[arg-type]
        ],
        ids=["10.005-usd", "1.5-jpy", "1.234-kwd-charge", "unknown", "float-to", "float-from"],
    )
    def test_example_raises(
        self, call: Callable[[], object], amount_text: str, currency_text: str
    ) -> None:
        with pytest.raises(MoneyError) as caught:
            call()
        assert amount_text in str(caught.value)
        assert currency_text in str(caught.value)


class TestStripeCharge:
    def test_three_decimal_amounts_ending_in_zero_are_chargeable(self) -> None:
        for code in sorted(money.THREE_DECIMAL):
            assert money.to_stripe_charge_minor(Decimal("1.230"), code) == 1230
            assert money.to_stripe_charge_minor(Decimal("-1.23"), code) == -1230
            with pytest.raises(MoneyError, match="multiple of 10"):
                money.to_stripe_charge_minor(Decimal("1.234"), code)

    def test_isk_takes_whole_kronur_only(self) -> None:
        assert money.to_stripe_charge_minor(Decimal("150"), "ISK") == 15000
        assert money.to_minor(Decimal("1.50"), "ISK") == 150
        with pytest.raises(MoneyError, match=r"1\.50 ISK .*multiple of 100"):
            money.to_stripe_charge_minor(Decimal("1.50"), "ISK")

    def test_two_decimal_currencies_have_no_extra_step(self) -> None:
        assert money.to_stripe_charge_minor(Decimal("0.01"), "usd") == 1
        assert money.to_stripe_charge_minor(Decimal("10.01"), "huf") == 1001

    def test_charge_path_still_refuses_inexact_amounts(self) -> None:
        with pytest.raises(MoneyError, match="cannot represent 10.005 USD"):
            money.to_stripe_charge_minor(Decimal("10.005"), "usd")

    def test_check_charge_amount_accepts_valid_amounts(self) -> None:
        assert money.check_charge_amount(50, "usd") == 50
        assert money.check_charge_amount(17500, "HUF") == 17500
        assert money.check_charge_amount(1230, "kwd") == 1230
        assert money.check_charge_amount(1, "aoa") == 1  # no minimum known

    @pytest.mark.parametrize(
        ("minor", "currency", "message"),
        [
            (49, "usd", r"0\.49 USD is below Stripe's minimum charge of 0\.50 USD"),
            (29, "GBP", r"0\.29 GBP is below"),
            (49, "jpy", r"49 JPY is below"),
            (0, "usd", r"0\.00 USD .*must be positive"),
            (-100, "aoa", r"-1\.00 AOA .*must be positive"),
            (1234, "kwd", r"1\.234 KWD .*multiple of 10"),
            (15050, "isk", r"150\.50 ISK .*multiple of 100"),
            (50.0, "usd", r"50\.0 \(float\) USD"),
            (50, "xyz", r"unknown currency 'xyz'"),
        ],
    )
    def test_check_charge_amount_refuses(self, minor: int, currency: str, message: str) -> None:
        with pytest.raises(MoneyError, match=message):
            money.check_charge_amount(minor, currency)


class TestEveryCurrency:
    """A deterministic sweep, so each currency is exercised whatever Hypothesis draws."""

    @pytest.mark.parametrize("code", ALL_CODES)
    def test_boundaries_round_trip_and_excess_digit_raises(self, code: str) -> None:
        for minor in (1, -1, 10, 99_999_999, LIMIT, -LIMIT):
            amount = money.from_minor(minor, code)
            assert amount.as_tuple().exponent == -money.exponent(code)
            assert money.to_minor(amount, code.upper()) == minor
        with pytest.raises(MoneyError, match="cannot represent"):
            money.to_minor(_one_digit_too_many(code, 1), code)


class TestProperties:
    @PROPERTY
    @given(currency=currencies, minor=minor_units)
    def test_minor_round_trip(self, currency: str, minor: int) -> None:
        assert money.to_minor(money.from_minor(minor, currency), currency) == minor

    @PROPERTY
    @given(data=st.data(), currency=currencies)
    def test_decimal_round_trip(self, data: st.DataObject, currency: str) -> None:
        places = money.exponent(currency)
        amount = data.draw(
            st.decimals(min_value=-(10**15), max_value=10**15, places=places, allow_nan=False),
            label="amount",
        )
        back = money.from_minor(money.to_minor(amount, currency), currency)
        assert back == amount
        assert back.as_tuple().exponent == -places

    @PROPERTY
    @given(
        currency=currencies,
        units=st.integers(min_value=-(10**15), max_value=10**15).filter(lambda n: n % 10),
    )
    def test_one_decimal_too_many_raises(self, currency: str, units: int) -> None:
        amount = _one_digit_too_many(currency, units)
        with pytest.raises(MoneyError, match="cannot represent") as caught:
            money.to_minor(amount, currency)
        assert str(amount) in str(caught.value)
        assert currency.upper() in str(caught.value)
        with pytest.raises(MoneyError):
            money.to_stripe_charge_minor(amount, currency)

    @PROPERTY
    @given(currency=currencies, minor=st.integers(min_value=-(10**12), max_value=10**12))
    def test_charge_path_accepts_exactly_the_multiples_of_the_step(
        self, currency: str, minor: int
    ) -> None:
        amount = money.from_minor(minor, currency)
        if minor % money.rules(currency).charge_step == 0:
            assert money.to_stripe_charge_minor(amount, currency) == minor
        else:
            with pytest.raises(MoneyError, match="not chargeable"):
                money.to_stripe_charge_minor(amount, currency)

    @PROPERTY
    @given(
        currency=currencies,
        flips=st.lists(st.booleans(), min_size=3, max_size=3),
        minor=minor_units,
    )
    def test_currency_case_does_not_matter(
        self, currency: str, flips: list[bool], minor: int
    ) -> None:
        cased = _random_case(currency, flips)
        amount = money.from_minor(minor, cased)
        assert amount == money.from_minor(minor, currency)
        assert money.to_minor(amount, cased) == minor
        assert money.normalize_currency(cased) == currency
        assert money.format_amount(minor, cased) == f"{amount} {currency.upper()}"
