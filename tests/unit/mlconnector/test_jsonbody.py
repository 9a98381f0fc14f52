"""Tests for mlconnector.jsonbody: hostile JSON is refused with a reason, never a RecursionError."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mlconnector.jsonbody import MAX_DEPTH
from mlconnector.jsonbody import HostileJSON
from mlconnector.jsonbody import InvalidJSON
from mlconnector.jsonbody import loads
from mlconnector.jsonbody import request_json
from mlconnector.web import configure_app


def nested(depth: int, *, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


class TestLoads:
    def test_ordinary_documents_parse_as_usual(self) -> None:
        text = '{"id": "evt_1", "data": {"amount": 1050, "lines": [1, 2.5, null, true]}}'
        assert loads(text.encode()) == {
            "id": "evt_1",
            "data": {"amount": 1050, "lines": [1, 2.5, None, True]},
        }

    def test_decimals_stay_exact_when_asked_for(self) -> None:
        value = loads(b'{"amount": 0.1, "n": [123.450]}', parse_float=Decimal)
        assert value == {"amount": Decimal("0.1"), "n": [Decimal("123.450")]}
        assert str(value["n"][0]) == "123.450"

    @pytest.mark.parametrize("depth", [1000, 100_000])
    def test_a_bomb_of_nested_arrays_is_refused_not_a_recursion_error(self, depth: int) -> None:
        with pytest.raises(HostileJSON, match=f"nested deeper than {MAX_DEPTH} levels"):
            loads(("[" * depth).encode())

    def test_nesting_is_allowed_up_to_the_limit_and_refused_past_it(self) -> None:
        value = loads(nested(MAX_DEPTH))
        for _ in range(MAX_DEPTH - 1):
            (value,) = value
        assert value == []
        with pytest.raises(HostileJSON, match="nested deeper"):
            loads(nested(MAX_DEPTH + 1))
        objects = '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)
        with pytest.raises(HostileJSON, match="nested deeper"):
            loads(objects)

    def test_a_smaller_limit_can_be_asked_for(self) -> None:
        assert loads("[[1]]", max_depth=2) == [[1]]
        with pytest.raises(HostileJSON):
            loads("[[[1]]]", max_depth=2)

    @pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
    def test_non_finite_constants_are_refused(self, constant: str) -> None:
        with pytest.raises(HostileJSON, match=constant.lstrip("-")):
            loads(f'{{"amount": {constant}}}')

    def test_a_float_that_overflows_is_refused(self) -> None:
        with pytest.raises(HostileJSON, match="out of range"):
            loads('{"amount": 1e999}')
        assert loads('{"amount": 1e999}', parse_float=Decimal) == {"amount": Decimal("1E+999")}

    def test_a_number_with_too_many_digits_is_refused(self) -> None:
        with pytest.raises(HostileJSON, match="too many digits"):
            loads("1" * 5000)

    @pytest.mark.parametrize("text", ['{"id": "\\ud800"}', '{"\\udfff": 1}', '["ok", ["\\ud83d"]]'])
    def test_lone_surrogates_are_refused(self, text: str) -> None:
        with pytest.raises(HostileJSON, match="lone UTF-16 surrogate"):
            loads(text)

    def test_a_proper_surrogate_pair_is_text(self) -> None:
        assert loads('{"emoji": "\\ud83d\\ude00", "name": "Zoë"}') == {
            "emoji": "\U0001f600",
            "name": "Zoë",
        }

    @pytest.mark.parametrize(
        ("data", "reason"),
        [
            (b"", "not valid JSON: Expecting value at line 1 column 1"),
            (b"{not json", "not valid JSON: Expecting property name enclosed in double quotes"),
            (b'{"a": 1} trailing', "not valid JSON: Extra data at line 1 column 10"),
            (b'{"a": "\xff"}', "the body is not UTF-8"),
        ],
    )
    def test_malformed_documents_say_why_without_quoting_the_body(
        self, data: bytes, reason: str
    ) -> None:
        with pytest.raises(InvalidJSON) as raised:
            loads(data)
        assert not isinstance(raised.value, HostileJSON)
        assert raised.value.reason.startswith(reason)
        assert isinstance(raised.value, ValueError)  # existing ``except ValueError`` still works


@pytest.fixture
def client() -> FlaskClient:
    app = Flask(__name__)
    app.testing = True
    configure_app(app)

    @app.post("/strict")
    def strict() -> dict[str, Any]:
        return {"body": request_json()}

    @app.post("/lenient")
    def lenient() -> dict[str, Any]:
        return {"body": request_json(silent=True)}

    return app.test_client()


class TestRequestJson:
    def test_a_good_body_is_returned(self, client: FlaskClient) -> None:
        assert client.post("/strict", json={"a": [1]}).get_json() == {"body": {"a": [1]}}

    @pytest.mark.parametrize("path", ["/strict", "/lenient"])
    def test_hostile_json_is_a_400_with_the_reason_even_when_lenient(
        self, client: FlaskClient, path: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.DEBUG):
            response = client.post(
                path,
                data=b"[" * 100_000,
                content_type="application/json",
                headers={"X-Correlation-Id": "bomb-1"},
            )
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert error["code"] == "invalid_json"
        assert error["message"] == (
            f"the body is not acceptable JSON: JSON nested deeper than {MAX_DEPTH} levels"
        )
        (warning,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert warning.levelno == logging.WARNING
        assert "bomb-1" in warning.getMessage()
        assert "nested deeper" in warning.getMessage()

    def test_malformed_json_is_a_400_when_strict_and_none_when_lenient(
        self, client: FlaskClient
    ) -> None:
        strict = client.post("/strict", data=b"{not json", content_type="application/json")
        assert strict.status_code == 400
        assert strict.get_json()["error"]["code"] == "invalid_json"
        lenient = client.post("/lenient", data=b"{not json", content_type="application/json")
        assert lenient.get_json() == {"body": None}
