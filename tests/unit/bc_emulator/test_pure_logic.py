"""Pure helpers: exact JSON, enum encoding, filter parsing, amounts, skip tokens, config."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from decimal import Decimal

import pytest

from bc_emulator import jsonio
from bc_emulator.amounts import round_to
from bc_emulator.config import TEST_RETRY_DELAYS
from bc_emulator.config import make_config
from bc_emulator.edm import xml_decode
from bc_emulator.edm import xml_encode
from bc_emulator.errors import BCError
from bc_emulator.odata_eval import equality_constraints
from bc_emulator.odata_filter import parse_filter
from bc_emulator.odata_query import SkipToken


class TestJson:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (Decimal("100.00"), "100"),
            (Decimal("-0.10"), "-0.1"),
            (Decimal("1E+3"), "1000"),
            (Decimal("-0"), "0"),
            (Decimal("123.45"), "123.45"),
        ],
    )
    def test_decimals_are_plain_json_numbers(self, value: Decimal, text: str) -> None:
        assert jsonio.dumps({"amount": value}) == f'{{"amount":{text}}}'

    def test_round_trip_keeps_decimals_exact(self) -> None:
        parsed = jsonio.loads('{"a": 0.1, "b": 3, "c": [1.10]}')
        assert parsed == {"a": Decimal("0.1"), "b": 3, "c": [Decimal("1.10")]}
        assert isinstance(parsed["b"], int)

    def test_floats_and_nan_are_refused(self) -> None:
        with pytest.raises(TypeError):
            jsonio.dumps({"x": 0.1})
        with pytest.raises(ValueError, match="NaN"):
            jsonio.loads('{"x": NaN}')

    def test_datetime_format(self) -> None:
        stamp = datetime(2024, 5, 1, 12, 0, 3, 45000, tzinfo=UTC)
        assert jsonio.dumps(stamp) == '"2024-05-01T12:00:03.045Z"'


class TestEnums:
    @pytest.mark.parametrize(
        ("member", "encoded"),
        [
            ("In Review", "In_x0020_Review"),
            ("G/L Account", "G_x002F_L_x0020_Account"),
            (" ", "_x0020_"),
            ("Begin-Total", "Begin_x002D_Total"),
            ("Open", "Open"),
        ],
    )
    def test_xml_encoding(self, member: str, encoded: str) -> None:
        assert xml_encode(member) == encoded
        assert xml_decode(encoded) == member


class TestFilterParser:
    def test_constraints_come_from_and_chains_only(self) -> None:
        node = parse_filter("journalId eq 5d115c9c-44e3-ea11-bb43-000d3a2feca1 and amount lt -1.5")
        assert equality_constraints(node) == {"journalId": "5d115c9c-44e3-ea11-bb43-000d3a2feca1"}
        either = parse_filter("status eq 'Open' or status eq 'Paid'")
        assert equality_constraints(either) == {}

    def test_literals(self) -> None:
        node = parse_filter("lastModifiedDateTime gt 2019-08-18T20:05:51.603Z")
        assert node.literal.value == datetime(2019, 8, 18, 20, 5, 51, 603000, tzinfo=UTC)  # type: ignore[union-attr]
        quoted = parse_filter("number eq 'O''Brien'")
        assert quoted.literal.value == "O'Brien"  # type: ignore[union-attr]

    @pytest.mark.parametrize("text", ["status eq", "eq 'x'", "(status eq 'x'", "status ~ 'x'"])
    def test_syntax_errors(self, text: str) -> None:
        with pytest.raises(BCError) as info:
            parse_filter(text)
        assert info.value.status == 400


class TestSmallPieces:
    def test_half_up_rounding(self) -> None:
        assert round_to(Decimal("0.125"), 2) == Decimal("0.13")
        assert round_to(Decimal("-0.125"), 2) == Decimal("-0.13")

    def test_skip_token_round_trip(self) -> None:
        token = SkipToken(seq=42, returned=7)
        assert SkipToken.decode(token.encode()) == token
        with pytest.raises(BCError):
            SkipToken.decode("garbage!")

    def test_test_mode_scales_time(self) -> None:
        config = make_config({"test_mode": True})
        assert config.notification_delay_seconds < 1
        assert config.retry_delays_seconds == TEST_RETRY_DELAYS
        assert config.allow_http_notification_url
        assert make_config({}).notification_delay_seconds == 30

    def test_unknown_setting_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown emulator setting"):
            make_config({"no_such_knob": 1})
