"""``mlconnector.openapi``: descriptions that say what marshmallow really accepts and dumps.

The services' descriptions are generated from their schemas, so the rules that translate a field
into JSON Schema decide whether a description is true. Each rule is checked here against the
code it describes: for the ``mlconnector.validators`` a property test feeds the same arbitrary
strings to the validator and to the JSON Schema (validated by jsonschema_rs, the engine
Schemathesis checks with) and requires the same verdict.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from flask import Flask
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from mlconnector import money
from mlconnector import validators
from mlconnector.openapi import DECIMAL_PATTERN
from mlconnector.openapi import app_operations
from mlconnector.openapi import document_operations
from mlconnector.openapi import finish
from mlconnector.openapi import new_spec
from mlconnector.openapi import openapi_blueprint
from mlconnector.openapi import openapi_path
from mlconnector.openapi import operation
from mlconnector.openapi import schema_name

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None)

# Strings that probe every rule: code-ish characters, the edges (space, dot, brackets), control
# characters (C0, DEL, C1), non-ASCII letters and digits, all at lengths around the limits.
_ALPHABET = st.one_of(
    st.sampled_from("AZaz09_-./+# []:'\"\x00\x1f\x7f\x85\x9f\u00e9\u0661\u00df\ufb01"),
    st.characters(codec="utf-8"),
)
TEXTS = st.text(_ALPHABET, max_size=45) | st.text(_ALPHABET, min_size=95, max_size=105)


class LineRequestSchema(Schema):
    amount = fields.Decimal(as_string=True, required=True)
    post = fields.Bool(load_default=False)


class LineResultSchema(Schema):
    amount = fields.Decimal(as_string=True, allow_none=True)
    post = fields.Bool()


class JsonOnlyBool(fields.Boolean):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class FlagSchema(Schema):
    flag = JsonOnlyBool()


class InvoiceSchema(Schema):
    id = fields.Str()
    payments = fields.List(fields.Str())


class ChargeSchema(Schema):
    invoice = fields.Nested(InvoiceSchema(exclude=("payments",)))


def components(**kwargs: Any) -> dict[str, Any]:
    """The component schemas of a spec with one operation per response schema given."""
    request_schemas = kwargs.pop("request_schemas", ())
    spec = new_spec(title="t", version="1", description="d", request_schemas=request_schemas)
    for number, (name, schema) in enumerate(kwargs.items()):
        spec.path(
            path=f"/{name}",
            operations={
                "post": operation(
                    f"op{number}",
                    "s",
                    tag="t",
                    body=schema,
                    responses={"200": {"description": "ok"}},
                )
            },
        )
    result: dict[str, Any] = finish(spec)["components"]["schemas"]
    return result


def json_schema_for(validator: Any, field: type[fields.Field[Any]] = fields.Str) -> dict[str, Any]:
    """The JSON Schema of a one-field request schema whose field carries ``validator``."""
    schema_class = type("ProbeSchema", (Schema,), {"value": field(validate=validator)})
    described = components(request_schemas=[schema_class], probe=schema_class)
    value: dict[str, Any] = described["Probe"]["properties"]["value"]
    return value


def accepts(validator: Any, value: Any) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


class TestNames:
    def test_a_schema_is_named_after_its_class(self) -> None:
        assert schema_name(LineRequestSchema) == "LineRequest"

    def test_an_instance_that_excludes_fields_says_so(self) -> None:
        assert schema_name(InvoiceSchema(exclude=("payments",))) == "InvoiceWithoutPayments"

    def test_a_nested_instance_with_exclusions_is_its_own_component(self) -> None:
        described = components(charge=ChargeSchema)

        assert described["Charge"]["properties"]["invoice"] == {
            "$ref": "#/components/schemas/InvoiceWithoutPayments"
        }
        assert set(described["InvoiceWithoutPayments"]["properties"]) == {"id"}


class TestRequestsAndResponses:
    def test_a_request_decimal_is_a_number_or_a_decimal_string(self) -> None:
        described = components(request_schemas=[LineRequestSchema], line=LineRequestSchema)

        amount = described["LineRequest"]["properties"]["amount"]
        assert amount["type"] == ["string", "number"]
        assert amount["pattern"] == DECIMAL_PATTERN

    def test_a_response_decimal_is_a_string_and_keeps_null(self) -> None:
        described = components(result=LineResultSchema)

        assert described["LineResult"]["properties"]["amount"]["type"] == ["string", "null"]

    def test_a_request_boolean_lists_every_spelling_marshmallow_reads(self) -> None:
        described = components(request_schemas=[LineRequestSchema], line=LineRequestSchema)

        spellings = described["LineRequest"]["properties"]["post"]["enum"]
        assert {"yes", "off", 1, 0} <= set(spellings)
        for value in spellings:
            LineRequestSchema().load({"amount": "1", "post": value})

    def test_a_boolean_that_reads_json_booleans_only_is_described_so(self) -> None:
        described = components(request_schemas=[FlagSchema], flag=FlagSchema)

        assert described["Flag"]["properties"]["flag"] == {"type": "boolean"}

    def test_a_response_boolean_is_a_boolean(self) -> None:
        described = components(result=LineResultSchema)

        assert described["LineResult"]["properties"]["post"] == {"type": "boolean"}

    @FUZZ
    @given(
        st.one_of(
            st.decimals(allow_nan=False, allow_infinity=False).map(str),
            st.text(st.sampled_from("0123456789.eE+- _"), max_size=12),
        )
    )
    def test_the_decimal_pattern_accepts_what_decimal_reads(self, text: str) -> None:
        validator = jsonschema_rs.validator_for({"type": "string", "pattern": DECIMAL_PATTERN})
        loaded = accepts(lambda v: LineRequestSchema().load({"amount": v}), text)
        if validator.is_valid(text):
            assert loaded, text
        elif "_" not in text:  # Decimal also reads "1_000"; the description does not invite it
            assert not loaded, text


class TestValidatorsAreDescribedExactly:
    """Each validator and its JSON Schema agree on every string (and more for metadata)."""

    @pytest.mark.parametrize(
        "validator",
        [
            validators.Text(100),
            validators.Text(20, min_length=1),
            validators.Code(10),
            validators.Code(35),
            validators.Identifier(100),
            validators.StripeId("ch", "py"),
            validators.StripeId("cus"),
            validators.Currency(),
        ],
        ids=repr,
    )
    @FUZZ
    @given(value=TEXTS)
    def test_strings(self, validator: Any, value: str) -> None:
        described = jsonschema_rs.validator_for(json_schema_for(validator))

        assert described.is_valid(value) == accepts(validator, value), repr(value)

    @pytest.mark.parametrize("code", sorted(money.CURRENCIES))
    def test_every_known_currency_in_any_case(self, code: str) -> None:
        described = jsonschema_rs.validator_for(json_schema_for(validators.Currency()))

        assert all(described.is_valid(c) for c in (code, code.upper(), code.title()))

    @FUZZ
    @given(
        value=st.dictionaries(TEXTS, TEXTS | st.integers() | st.none(), max_size=6)
        | st.dictionaries(st.text(max_size=3), st.text(max_size=3), min_size=45, max_size=55)
    )
    def test_metadata(self, value: dict[str, Any]) -> None:
        validator = validators.Metadata(46)
        described = jsonschema_rs.validator_for(json_schema_for(validator, fields.Dict))

        assert described.is_valid(value) == accepts(validator, value), repr(value)

    @FUZZ
    @given(units=st.integers(-(10**16), 10**16), places=st.integers(0, 5))
    def test_amount_numbers(self, units: int, places: int) -> None:
        """A JSON number as a client writes it: the server reads its text as an exact Decimal."""
        validator = validators.Amount(places=3)
        described = jsonschema_rs.validator_for(json_schema_for(validator, fields.Decimal))
        text = str(Decimal(units).scaleb(-places))

        # The description leaves the string form open: only the number form is compared.
        assert described.is_valid(json.loads(text)) == accepts(validator, Decimal(text)), text


class TestServing:
    def test_the_blueprint_serves_the_document_built_on_first_request(self) -> None:
        calls: list[int] = []

        def build() -> dict[str, Any]:
            calls.append(1)
            return {"openapi": "3.1.0"}

        app = Flask(__name__)
        app.register_blueprint(openapi_blueprint(build))
        assert calls == []

        response = app.test_client().get("/openapi.json")

        assert response.status_code == 200
        assert response.get_json() == {"openapi": "3.1.0"}


class TestTruthfulness:
    def test_flask_rules_become_openapi_paths(self) -> None:
        assert openapi_path("/records/<int:record_id>/replay") == "/records/{record_id}/replay"
        assert openapi_path("/commands/<path:a>/<b>") == "/commands/{a}/{b}"

    def test_routes_and_described_operations_are_compared_without_flask_extras(self) -> None:
        app = Flask(__name__)
        app.add_url_rule("/things/<int:thing_id>", "show", lambda thing_id: "", methods=["GET"])
        document: dict[str, Any] = {"paths": {"/things/{thing_id}": {"get": {}, "parameters": []}}}

        assert (
            app_operations(app) == document_operations(document) == {("/things/{thing_id}", "GET")}
        )

    def test_a_spec_with_the_shared_parts_is_valid_openapi_3_1(self) -> None:
        spec = new_spec(title="t", version="1", description="d", security_schemes=["serviceToken"])
        spec.path(
            path="/x/{x_id}",
            operations={
                "get": operation(
                    "x",
                    "s",
                    tag="t",
                    security="serviceToken",
                    permission="x:read",
                    parameters=[
                        {
                            "name": "x_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    responses={"200": {"description": "ok"}},
                    errors=(401, 403, 404, 422, 429, 503),
                    also_refused={422: ["a rule"]},
                )
            },
        )
        document = finish(spec)

        schemathesis.openapi.from_dict(document).validate()
        op = document["paths"]["/x/{x_id}"]["get"]
        assert op["x-also-refused"] == {"422": ["a rule"]}
        assert op["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}

    def test_query_parameters_are_never_null(self) -> None:
        class QuerySchema(Schema):
            status = fields.Str(validate=validate.OneOf(["a", "b"]), load_default=None)

        spec = new_spec(title="t", version="1", description="d", request_schemas=[QuerySchema])
        spec.path(
            path="/q",
            operations={
                "get": operation(
                    "q",
                    "s",
                    tag="t",
                    parameters=[{"in": "query", "schema": QuerySchema}],
                    responses={"200": {"description": "ok"}},
                )
            },
        )

        (parameter,) = finish(spec)["paths"]["/q"]["get"]["parameters"]
        assert parameter["schema"] == {"type": "string", "enum": ["a", "b"]}
