"""Tests for mlconnector.validators: what a gateway command may ask to be written (issue 10)."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from decimal import localcontext

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields

from mlconnector import money
from mlconnector import validators
from mlconnector.validators import Code
from mlconnector.validators import Text
from mlconnector.validators import check_amount
from mlconnector.validators import check_code
from mlconnector.validators import check_currency_amount
from mlconnector.validators import check_identifier
from mlconnector.validators import check_metadata
from mlconnector.validators import check_stripe_id
from mlconnector.validators import check_text
from mlconnector.validators import currency_places
from mlconnector.validators import decimal_places

# Moderate example counts: the whole file should run in a few seconds on a shared machine.
PROPERTY = settings(max_examples=300, deadline=None, database=None)

CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-/+#"
REFUSED = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Cc", "Cs")]

refused_characters = st.sampled_from(REFUSED)
codes = st.text(alphabet=CODE_ALPHABET, min_size=1, max_size=35)


def _reason(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value.messages)


class TestControlCharacters:
    def test_the_refused_set_is_c0_del_c1_and_surrogates(self) -> None:
        expected = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000))]
        assert expected == REFUSED

    @PROPERTY
    @given(prefix=st.text(max_size=20), bad=refused_characters, suffix=st.text(max_size=20))
    def test_any_refused_character_anywhere_is_named_with_its_position(
        self, prefix: str, bad: str, suffix: str
    ) -> None:
        text = prefix + bad + suffix
        found = validators.control_character(text)
        assert found is not None
        position, code = found
        assert unicodedata.category(text[position]) in ("Cc", "Cs")
        assert code == f"U+{ord(text[position]):04X}"
        with pytest.raises(ValidationError) as info:
            check_text(text, max_length=100)
        assert "control character" in _reason(info)

    @PROPERTY
    @given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=100))
    def test_text_without_them_passes_within_its_length(self, text: str) -> None:
        assert check_text(text, max_length=100) == text

    def test_a_nul_in_an_external_document_number_is_refused(self) -> None:
        with pytest.raises(ValidationError) as info:
            check_code("pi_3Abc\x00DEF", max_length=validators.EXTERNAL_DOCUMENT_NUMBER)
        assert "U+0000 at position 7" in _reason(info)


class TestLengths:
    @pytest.mark.parametrize(
        ("limit", "expected"),
        [
            (validators.EXTERNAL_DOCUMENT_NUMBER, 35),
            (validators.DOCUMENT_NUMBER, 20),
            (validators.ACCOUNT_NUMBER, 20),
            (validators.JOURNAL_CODE, 10),
            (validators.DESCRIPTION, 100),
            (validators.COMMENT, 250),
            (validators.METADATA_MAX_KEYS, 50),
            (validators.METADATA_KEY_LENGTH, 40),
            (validators.METADATA_VALUE_LENGTH, 500),
        ],
    )
    def test_limits_match_the_references(self, limit: int, expected: int) -> None:
        # bc-api.md §3.7/§4.9/§4.11 and stripe-api.md §4, copied by hand on purpose.
        assert limit == expected

    @PROPERTY
    @given(length=st.integers(min_value=0, max_value=60), limit=st.integers(1, 40))
    def test_text_is_refused_exactly_above_its_limit(self, length: int, limit: int) -> None:
        text = "x" * length
        if length <= limit:
            assert check_text(text, max_length=limit) == text
        else:
            with pytest.raises(ValidationError) as info:
                check_text(text, max_length=limit)
            assert f"is {length} characters long; at most {limit} fit" in _reason(info)

    def test_an_empty_code_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="must not be empty"):
            check_code("", max_length=10)


class TestCode:
    @PROPERTY
    @given(codes)
    def test_the_connectors_code_alphabet_passes(self, value: str) -> None:
        if ".." not in value:
            assert check_code(value, max_length=35) == value

    @pytest.mark.parametrize("bad", list("&|<>=*@'()\"%") + ["é", "ß", "\u200b"])
    def test_filter_operators_and_non_ascii_are_refused(self, bad: str) -> None:
        with pytest.raises(ValidationError) as info:
            check_code(f"PO{bad}1", max_length=20)
        assert "ASCII letters, digits" in _reason(info)

    @pytest.mark.parametrize(
        ("value", "words"),
        [("A..B", "range operator"), (" STRIPE", "trims"), ("STRIPE ", "trims")],
    )
    def test_values_bc_would_read_or_store_differently(self, value: str, words: str) -> None:
        with pytest.raises(ValidationError) as info:
            check_code(value, max_length=20)
        assert words in _reason(info)

    def test_inner_spaces_and_the_connectors_own_values_pass(self) -> None:
        for value in ("GIRO 1", "PO-0001", "po_1AbC-FC", "10900", "SI/2024/1", "A.B+C#D"):
            assert check_code(value, max_length=20) == value

    def test_as_field_validators_they_report_the_field(self) -> None:
        class Command(Schema):
            journal = fields.Str(validate=Code(10))
            description = fields.Str(validate=Text(100))

        with pytest.raises(ValidationError) as info:
            Command().load({"journal": "NEWJOURNAL1", "description": "a\x7fb"})
        errors = info.value.messages
        assert isinstance(errors, dict)
        assert set(errors) == {"journal", "description"}
        assert "Code[10]" in str(errors["journal"])
        assert "U+007F" in str(errors["description"])


class TestIds:
    @pytest.mark.parametrize("value", ["5d115c9c-44e3-ea11-bb43-000d3a2feca1", "co", "inv-i_1.2"])
    def test_identifiers(self, value: str) -> None:
        assert check_identifier(value) == value

    @pytest.mark.parametrize("value", ["", "a:b", "o'brien", "x" * 101, "a b", "a\x00"])
    def test_identifiers_that_would_break_keys_or_queries(self, value: str) -> None:
        with pytest.raises(ValidationError):
            check_identifier(value)

    @pytest.mark.parametrize(
        ("value", "ok"),
        [
            ("ch_3AbC", True),
            ("py_3AbC", True),
            ("in_3AbC", False),
            ("ch_", False),
            ("ch_3Ab/../x", False),
            ("ch_" + "a" * 252, True),
            ("ch_" + "a" * 253, False),
            ("ch_abc\x00", False),
        ],
    )
    def test_stripe_ids(self, value: str, ok: bool) -> None:
        if ok:
            assert check_stripe_id(value, ("ch", "py")) == value
        else:
            with pytest.raises(ValidationError):
                check_stripe_id(value, ("ch", "py"))


class TestMetadata:
    def test_within_stripes_limits(self) -> None:
        data = {f"k{i:02d}" + "x" * 37: "v" * 500 for i in range(50)}
        assert check_metadata(data) == data

    @pytest.mark.parametrize(
        ("data", "words"),
        [
            ({f"k{i}": "v" for i in range(51)}, "at most 50"),
            ({"k" * 41: "v"}, "key is 41 characters"),
            ({"a[b]": "v"}, "'[' or ']'"),
            ({"k": "v" * 501}, "value is 501 characters"),
            ({"k": "line\nbreak"}, "U+000A"),
            ({"k\x00": "v"}, "U+0000"),
            ({"": "v"}, "key must not be empty"),
        ],
    )
    def test_refusals_name_the_key_and_the_reason(self, data: dict[str, str], words: str) -> None:
        with pytest.raises(ValidationError) as info:
            check_metadata(data)
        assert words in _reason(info)

    def test_the_key_budget_can_be_smaller(self) -> None:
        with pytest.raises(ValidationError, match="at most 46"):
            check_metadata({f"k{i}": "v" for i in range(47)}, max_keys=46)


class TestAmounts:
    @pytest.mark.parametrize(
        "value",
        [Decimal("-1E+30"), Decimal("1E+12"), Decimal("-1000000000000.00"), Decimal("1E+999999")],
    )
    def test_out_of_range_is_refused(self, value: Decimal) -> None:
        with pytest.raises(ValidationError, match="out of range"):
            check_amount(value)

    @pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity")])
    def test_only_finite_numbers(self, value: Decimal) -> None:
        with pytest.raises(ValidationError, match="finite"):
            check_amount(value)

    @pytest.mark.parametrize("value", [1.5, 2, "3", None, True])
    def test_only_decimals(self, value: object) -> None:
        with pytest.raises(ValidationError, match="finite decimal"):
            check_amount(value)

    def test_the_bound_is_just_below_ten_to_the_twelve(self) -> None:
        assert check_amount(Decimal("999999999999.999")) == Decimal("999999999999.999")

    @PROPERTY
    @given(units=st.integers(min_value=-(10**15), max_value=10**15), places=st.integers(0, 40))
    def test_decimal_places_is_exact_at_any_precision(self, units: int, places: int) -> None:
        amount = Decimal(units).scaleb(-places)
        with localcontext() as ctx:
            ctx.prec = 3  # a hostile context changes nothing: no step may round
            found = decimal_places(amount)
        # The fraction is the last ``places`` digits of the units, less its trailing zeros.
        expected = len(str(abs(units)).zfill(places + 1)[-places:].rstrip("0")) if places else 0
        assert found == expected

    @PROPERTY
    @given(code=st.sampled_from(sorted(money.CURRENCIES)), minor=st.integers(-(10**9), 10**9))
    def test_every_amount_stripe_can_settle_passes_in_its_currency(
        self, code: str, minor: int
    ) -> None:
        rule = money.rules(code)
        step = 10 ** max(0, rule.exponent - rule.iso_exponent)  # ISK: whole kronur only
        amount = money.from_minor(minor * step, code)
        assert check_currency_amount(amount, code) == amount

    @PROPERTY
    @given(code=st.sampled_from(sorted(money.CURRENCIES)), units=st.integers(1, 10**9))
    def test_one_decimal_too_many_is_refused_in_every_currency(self, code: str, units: int) -> None:
        places = currency_places(code)
        amount = Decimal(units * 10 + 1).scaleb(-(places + 1))
        with pytest.raises(ValidationError) as info:
            check_currency_amount(amount, code)
        assert f"{code.upper()} has {places}" in _reason(info)

    @pytest.mark.parametrize(
        ("code", "places"), [("usd", 2), ("JPY", 0), ("kwd", 3), ("isk", 0), ("mga", 0)]
    )
    def test_currency_places_is_the_stricter_of_stripe_and_iso(
        self, code: str, places: int
    ) -> None:
        assert currency_places(code) == places

    def test_an_unknown_currency_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="unknown currency"):
            check_currency_amount(Decimal("1.00"), "xxx")
