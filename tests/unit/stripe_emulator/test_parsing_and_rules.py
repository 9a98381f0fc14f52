"""Pure-logic tests: form decoding, search queries, currency rules and fee arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stripe_emulator.config import EmulatorConfig
from stripe_emulator.currency import exponent
from stripe_emulator.currency import validate_charge_amount
from stripe_emulator.currency import validate_currency
from stripe_emulator.errors import StripeError
from stripe_emulator.fees import compute_fee
from stripe_emulator.forms import Params
from stripe_emulator.forms import merge_metadata
from stripe_emulator.forms import parse_form
from stripe_emulator.search_query import matches
from stripe_emulator.search_query import parse

FIELDS = {"created": "number", "email": "string", "metadata": "metadata", "name": "string"}


class TestParseForm:
    def test_nested_arrays_and_metadata_as_the_sdk_encodes_them(self) -> None:
        parsed = parse_form(
            [
                ("lines[0][amount]", "1000"),
                ("lines[0][metadata][bc line]", "10000"),
                ("lines[1][price_data][unit_amount_decimal]", "12.5"),
                ("expand[0]", "payments"),
                ("expand[1]", "customer"),
                ("metadata[0]", "digit keys stay keys"),
            ]
        )
        assert parsed == {
            "lines": [
                {"amount": "1000", "metadata": {"bc line": "10000"}},
                {"price_data": {"unit_amount_decimal": "12.5"}},
            ],
            "expand": ["payments", "customer"],
            "metadata": {"0": "digit keys stay keys"},
        }

    def test_empty_brackets_append(self) -> None:
        assert parse_form([("expand[]", "a"), ("expand[]", "b")]) == {"expand": ["a", "b"]}

    def test_conflicting_keys_are_a_parameter_error(self) -> None:
        with pytest.raises(StripeError) as caught:
            parse_form([("a", "1"), ("a[b]", "2")])
        assert caught.value.status == 400

    def test_typed_getters_raise_stripe_parameter_errors(self) -> None:
        params = Params({"lines": [{"amount": "ten"}]})
        line = params.objects("lines")[0]
        with pytest.raises(StripeError) as caught:
            line.integer("amount")
        assert caught.value.code == "parameter_invalid_integer"
        assert caught.value.param == "lines[0][amount]"
        with pytest.raises(StripeError) as unknown:
            Params({"colour": "red"}).check_known(("color",))
        assert unknown.value.code == "parameter_unknown"

    def test_metadata_merge_semantics(self) -> None:
        current = {"a": "1", "b": "2"}
        assert merge_metadata(current, {"b": "", "c": "3"}) == {"a": "1", "c": "3"}
        assert merge_metadata(current, {}) == {}
        assert merge_metadata(current, None) == current


class TestSearchQuery:
    def test_metadata_and_field_clauses(self) -> None:
        query = parse("metadata['bc_customer_no']:'C0001' AND email:\"Jane@Example.com\"", FIELDS)
        record = {"email": "jane@example.com", "metadata": {"bc_customer_no": "C0001"}}
        assert matches(query, record, FIELDS)
        assert not matches(query, {**record, "metadata": {"bc_customer_no": "C0002"}}, FIELDS)

    def test_or_negation_substring_and_numbers(self) -> None:
        assert matches(parse("name~'ane' OR email:'x'", FIELDS), {"name": "Jane"}, FIELDS)
        assert not matches(parse("-name:'Jane'", FIELDS), {"name": "Jane"}, FIELDS)
        assert matches(parse("created>=100 created<200", FIELDS), {"created": 150}, FIELDS)

    @pytest.mark.parametrize(
        "query",
        ["name:'a' AND email:'b' OR name:'c'", "unknown:'x'", "name~'ab'", "email>'x'", ""],
    )
    def test_invalid_queries_are_rejected(self, query: str) -> None:
        with pytest.raises(StripeError) as caught:
            parse(query, FIELDS)
        assert caught.value.param == "query"


class TestCurrencyRules:
    def test_exponents(self) -> None:
        assert (exponent("jpy"), exponent("eur"), exponent("kwd")) == (0, 2, 3)

    def test_unknown_currency(self) -> None:
        assert validate_currency("EUR") == "eur"
        with pytest.raises(StripeError) as caught:
            validate_currency("xyz")
        assert caught.value.param == "currency"

    def test_minimums_and_three_decimal_last_digit(self) -> None:
        validate_charge_amount(50, "jpy")
        with pytest.raises(StripeError) as small:
            validate_charge_amount(49, "jpy")
        assert small.value.code == "amount_too_small"
        validate_charge_amount(5120, "kwd")
        with pytest.raises(StripeError) as digit:
            validate_charge_amount(5125, "kwd")
        assert digit.value.code == "invalid_charge_amount"
        with pytest.raises(StripeError) as isk:
            validate_charge_amount(10050, "isk")
        assert isk.value.code == "invalid_charge_amount_no_decimal_compatible"


class TestFees:
    def test_default_schedule_rounds_half_up(self) -> None:
        config = EmulatorConfig()
        assert compute_fee(config, 500, "usd") == 45  # 14.5 -> 15, + 30
        assert compute_fee(config, 1550, "usd") == 75  # 44.95 -> 45, + 30

    def test_per_currency_rule_and_rounding_mode(self) -> None:
        config = EmulatorConfig()
        config.update(
            {
                "fees": {"default": {"percent": "2.9", "fixed": 30}, "jpy": {"percent": "3.6"}},
                "fee_rounding": "ROUND_HALF_EVEN",
            }
        )
        assert config.fees["jpy"].percent == Decimal("3.6")
        assert compute_fee(config, 1250, "jpy") == 45  # 45.0 exactly, no fixed part
        assert compute_fee(config, 500, "usd") == 44  # 14.5 -> 14 with banker's rounding
