"""JSON on the BC wire: exact decimals both ways, no floats."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bc_gateway.adapters import bc_json


def test_amounts_round_trip_exactly() -> None:
    text = bc_json.dumps({"amount": Decimal("-1234567890.12"), "zero": Decimal("-0.00")})
    assert text == '{"amount":-1234567890.12,"zero":0}'
    assert bc_json.loads(text)["amount"] == Decimal("-1234567890.12")


def test_numbers_from_bc_are_never_floats() -> None:
    value = bc_json.loads('{"a": 0.1, "b": 1500, "c": [2.50]}')
    assert value == {"a": Decimal("0.1"), "b": 1500, "c": [Decimal("2.50")]}
    assert not any(isinstance(v, float) for v in (value["a"], value["c"][0]))


def test_floats_nan_and_naive_times_are_refused() -> None:
    with pytest.raises(TypeError):
        bc_json.dumps({"amount": 0.1})
    with pytest.raises(ValueError, match="NaN"):
        bc_json.dumps(Decimal("NaN"))
    with pytest.raises(ValueError, match="NaN"):
        bc_json.loads('{"a": NaN}')
    with pytest.raises(ValueError, match="naive"):
        bc_json.dumps(dt.datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_dates_and_times_use_bcs_formats() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    assert bc_json.dumps([dt.date(2026, 1, 2), when]) == '["2026-01-02","2026-01-02T03:04:05.678Z"]'
    assert bc_json.dumps({"name": 'Zoë "Q"'}) == '{"name":"Zoë \\"Q\\""}'
