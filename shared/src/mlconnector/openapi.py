"""OpenAPI 3.1 descriptions of the services' own HTTP APIs, built from their marshmallow schemas.

Each service publishes ``GET /openapi.json`` so that what it accepts and answers is written down
in one machine-checkable place, and the test suite holds it to that with Schemathesis (issue 10,
reliability.md §5.5). A description is only useful if it is true, so it is generated from the
very marshmallow schemas the views load and dump, never written by hand next to them, and a unit
test compares every Flask URL rule with the documented paths.

This module holds what all three descriptions share: the ``{"error": {code, message, details}}``
body and one reusable response per error status, the bearer security schemes, the health probes
and ``/metrics``, the ``openapi`` blueprint itself, and the rules that turn marshmallow fields
into JSON Schema where apispec's defaults would describe something other than what marshmallow
does:

- a ``Decimal(as_string=True)`` is dumped as a string but loaded from a string *or* a number, so
  request schemas (named by the service) say ``["string", "number"]`` and responses ``"string"``;
- a ``Boolean`` loads marshmallow's truthy and falsy spellings (``"yes"``, ``1``, ...), which a
  request schema lists (unless a subclass reads values its own way), while responses always
  carry JSON booleans;
- the ``mlconnector.validators`` on a field (lengths, character classes, Stripe ids, currency
  codes, metadata limits, amount bounds) become the JSON Schema keywords that accept exactly
  what the validator accepts;
- a nested schema with ``exclude`` gets its own component name instead of apispec's numbered
  duplicate (and its warning).

The description is built on first request and cached: nothing is computed at import time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import Final

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Blueprint
from flask import Flask
from flask import Response
from flask import jsonify
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from mlconnector import money
from mlconnector import validators

OPENAPI_VERSION: Final = "3.1.0"
BLUEPRINT: Final = "openapi"
SPEC_PATH: Final = "/openapi.json"
METRICS_PATH: Final = "/metrics"  # served by mlconnector.metrics_export

#: What ``decimal.Decimal`` reads from a string, minus NaN and infinities (refused by
#: ``allow_nan=False``): optional sign, digits with an optional fraction, optional exponent.
DECIMAL_PATTERN: Final = r"^\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$"

#: Flask's automatic methods: answered by Flask itself, never by a view, so not described.
AUTOMATIC_METHODS: Final = frozenset({"HEAD", "OPTIONS"})

_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

SpecFactory = Callable[[], Mapping[str, Any]]


# -- shared bodies --------------------------------------------------------------------------------


class ErrorDetailSchema(Schema):
    """The inside of every error body: a stable machine ``code``, a human ``message``."""

    code = fields.Str(required=True)
    message = fields.Str(required=True)
    details = fields.Dict(keys=fields.Str())


class ErrorSchema(Schema):
    """``{"error": {"code", "message", "details"}}``: every non-2xx answer of every service."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class HealthSchema(Schema):
    status = fields.Str(required=True, validate=validate.OneOf(["ok"]))


class CheckResultSchema(Schema):
    ok = fields.Bool(required=True)
    error = fields.Str()


class ReadinessSchema(Schema):
    status = fields.Str(required=True, validate=validate.OneOf(["ready", "not_ready"]))
    checks = fields.Dict(keys=fields.Str(), values=fields.Nested(CheckResultSchema), required=True)


# One reusable response per error status. The descriptions say when each one happens; an
# operation lists only the statuses it can really give.
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "string", "pattern": r"^[0-9]+$"},
}
_ERRORS: Final[dict[int, tuple[str, str, dict[str, Any]]]] = {
    400: ("BadRequest", "The request cannot be read (malformed body or parameters).", {}),
    401: (
        "Unauthorized",
        "No credentials, or credentials that are not valid (RFC 6750 challenge).",
        {
            "WWW-Authenticate": {
                "description": 'The bearer challenge, e.g. `Bearer realm="bc-gateway"`.',
                "required": True,
                "schema": {"type": "string", "pattern": "^Bearer "},
            }
        },
    ),
    403: ("Forbidden", "The caller is authenticated but not granted this operation.", {}),
    404: ("NotFound", "No such resource.", {}),
    409: ("Conflict", "The resource is not in a state that allows this operation.", {}),
    413: ("PayloadTooLarge", "The body is larger than the service accepts.", {}),
    415: ("UnsupportedMediaType", "The body is not declared as JSON.", {}),
    422: (
        "ValidationFailed",
        "The request was read but refused: `validation_failed` names each field's problem, "
        "other codes say what the upstream system refused.",
        {},
    ),
    429: (
        "TooManyRequests",
        "Rate limited; try again later.",
        {"Retry-After": {**_RETRY_AFTER, "required": False}},
    ),
    502: ("BadGateway", "The upstream system answered in a way the service cannot use.", {}),
    503: (
        "ServiceUnavailable",
        "A dependency (broker, secret store, upstream system) is unavailable; retry later.",
        {"Retry-After": {**_RETRY_AFTER, "required": True}},
    ),
}


def error_responses(*statuses: int) -> dict[str, str]:
    """``{"400": "BadRequest", ...}``: references to the shared error responses."""
    return {str(status): _ERRORS[status][0] for status in statuses}


def error_content() -> dict[str, Any]:
    """The JSON content of an error response, for responses described inline."""
    return {"application/json": {"schema": ErrorSchema}}


def json_response(description: str, schema: Any) -> dict[str, Any]:
    """A response whose body is JSON described by ``schema`` (a marshmallow schema or a dict)."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def path_parameter(name: str, description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A required path parameter; ``schema`` is JSON Schema (Flask's converters are not fields)."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": dict(schema),
    }


#: Flask's default ``<name>`` converter: one non-empty path segment.
PATH_SEGMENT: Final[Mapping[str, Any]] = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}


def operation(
    operation_id: str,
    summary: str,
    *,
    tag: str,
    responses: Mapping[str, Any],
    errors: Iterable[int] = (),
    security: str | None = None,
    permission: str | None = None,
    parameters: Iterable[Mapping[str, Any]] = (),
    body: Any = None,
    body_required: bool = True,
    description: str | None = None,
    also_refused: Mapping[int, Iterable[str]] | None = None,
) -> dict[str, Any]:
    """One operation: its successes, the shared errors it can give, and who may call it.

    ``security`` names a scheme of ``SECURITY_SCHEMES`` (None: no credentials, as for webhooks,
    which carry their own proof); ``permission`` is the grant a service token needs, shown as
    the ``x-permission`` extension. ``also_refused`` says, per status, what a request valid by
    its JSON Schema can still be refused for, because JSON Schema cannot say it: rules across
    fields, the state of BC or Stripe, a webhook's proof of origin. It is the
    ``x-also-refused`` extension, so that such an answer is visibly part of the contract, for
    clients and for the Schemathesis tests alike.
    """
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "security": [{security: []}] if security else [],
        "responses": {**dict(responses), **error_responses(*sorted(set(errors)))},
    }
    refused = {str(status): list(rules) for status, rules in (also_refused or {}).items()}
    if refused:
        op["x-also-refused"] = refused
        notes = " ".join(
            f"{status} also for: {'; '.join(rules)}." for status, rules in refused.items()
        )
        description = f"{description} {notes}" if description else notes
    if description:
        op["description"] = description
    if permission:
        op["x-permission"] = permission
    params = [dict(p) for p in parameters]
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": body}},
        }
    return op


# -- security schemes -----------------------------------------------------------------------------

SERVICE_AUTH: Final = "serviceToken"
OPERATOR_AUTH: Final = "replayToken"

SECURITY_SCHEMES: Final[dict[str, dict[str, str]]] = {
    SERVICE_AUTH: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A short-lived EdDSA JWT signed by the calling service's key (the reconciler's) for "
            "this gateway's audience, checked against the published key set; the caller must "
            "also be granted the operation's permission (`x-permission`)."
        ),
    },
    OPERATOR_AUTH: {
        "type": "http",
        "scheme": "bearer",
        "description": "The reconciler API's operator token (`replay_token` in the secret store).",
    },
}


# -- marshmallow → JSON Schema --------------------------------------------------------------------


def schema_name(schema: type[Schema] | Schema) -> str:
    """Component name: the class name without ``Schema``, plus what an instance excludes.

    ``InvoiceSchema(exclude=("payments",))`` becomes ``InvoiceWithoutPayments`` rather than
    apispec's ``Invoice1``, so the name says what differs and no warning is raised.
    """
    cls = resolve_schema_cls(schema)
    base = cls[0] if isinstance(cls, list) else cls
    name = base.__name__.removesuffix("Schema") or base.__name__
    excluded = sorted(getattr(schema, "exclude", ()) or ()) if isinstance(schema, Schema) else []
    if excluded:
        name += "Without" + "And".join(_camel(field) for field in excluded)
    return name


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _with_null(types: list[str], nullable: bool) -> list[str] | str:
    if nullable and "null" not in types:
        types = [*types, "null"]
    return types if len(types) > 1 else types[0]


class _Converter:
    """Attribute functions that make apispec describe what marshmallow really does."""

    def __init__(self, request_schemas: Collection[type[Schema]]) -> None:
        self.request_schemas = tuple(request_schemas)

    def is_request(self, field: fields.Field[Any]) -> bool:
        root = field.root
        return bool(self.request_schemas) and isinstance(root, self.request_schemas)

    def decimal(self, field: fields.Field[Any], ret: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(field, fields.Decimal) or not field.as_string:
            return {}
        types = ["string", "number"] if self.is_request(field) else ["string"]
        return {"type": _with_null(types, field.allow_none), "pattern": DECIMAL_PATTERN}

    def boolean(self, field: fields.Field[Any], ret: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(field, fields.Boolean) or not self.is_request(field):
            return {}
        if type(field)._deserialize is not fields.Boolean._deserialize:
            return {}  # a subclass reads values its own way (JSON booleans only, typically)
        spellings = sorted(
            (v for v in field.truthy | field.falsy if not isinstance(v, bool)),
            key=lambda v: (isinstance(v, str), str(v)),
        )
        values: list[Any] = [True, False, *spellings]
        if field.allow_none:
            values.append(None)
        types = sorted({_json_type(v) for v in values})
        return {"type": types if len(types) > 1 else types[0], "enum": values}


#: No control character (Unicode category Cc), as ``validators.check_text`` requires. Lone
#: surrogates are refused too but cannot be written in a pattern every regex engine accepts.
NO_CONTROL_CHARACTERS: Final = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
_CODE_END = "A-Za-z0-9_\\-./+#"
#: ``validators.check_code``: those characters and inner spaces, no edge space (no ``..`` is
#: a separate ``not``).
CODE_PATTERN: Final = f"^[{_CODE_END}](?:[{_CODE_END} ]*[{_CODE_END}])?$"
IDENTIFIER_PATTERN: Final = "^[A-Za-z0-9_.\\-]+$"


def code_schema(max_length: int) -> dict[str, Any]:
    """A BC Code value as ``validators.check_code`` accepts it (for path parameters)."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": CODE_PATTERN,
        "not": {"pattern": "\\.\\."},
    }


def currency_pattern() -> str:
    """Every currency ``mlconnector.money`` knows, in any letter case (``money.rules``)."""
    codes = sorted(money.CURRENCIES)
    spelled = ("".join(f"[{c.lower()}{c.upper()}]" for c in code) for code in codes)
    return f"^(?:{'|'.join(spelled)})$"


def validator_keywords(field: fields.Field[Any], ret: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema for the ``mlconnector.validators`` on a field, exactly what each accepts.

    The decimals of an amount written as a string, and anything decided across fields
    (``@validates_schema``, a currency's own decimals) stay out: those refusals are 422
    ``validation_failed`` listed in the operation's ``x-also-refused``. The unit tests feed the
    same values to each validator and to its JSON Schema and require the same verdict.
    """
    found: dict[str, Any] = {}
    patterns: list[str] = []
    not_patterns: list[str] = []
    for validator in field.validators:
        if isinstance(validator, validators.Text):
            found["maxLength"] = validator.max_length
            if validator.min_length:
                found["minLength"] = validator.min_length
            if "format" not in ret:
                # A format (``email``) has no control characters already; the pattern on top
                # of it only makes generating examples from the description very slow.
                patterns.append(NO_CONTROL_CHARACTERS)
        elif isinstance(validator, validators.Code):
            found["maxLength"] = validator.max_length
            pattern = CODE_PATTERN
            if validator.min_length == 0:
                pattern = f"^(?:{CODE_PATTERN[1:-1]})?$"
            else:
                found["minLength"] = validator.min_length
            patterns.append(pattern)
            not_patterns.append("\\.\\.")
        elif isinstance(validator, validators.Identifier):
            found.update(minLength=1, maxLength=validator.max_length)
            patterns.append(IDENTIFIER_PATTERN)
        elif isinstance(validator, validators.StripeId):
            found.update(minLength=1, maxLength=validators.STRIPE_ID_LENGTH)
            prefixes = "|".join(sorted(validator.prefixes))
            patterns.append(f"^(?:{prefixes})_[A-Za-z0-9]+$")
        elif isinstance(validator, validators.Currency):
            patterns.append(currency_pattern())
        elif isinstance(validator, validators.Amount):
            # Bounds and decimals of the number form (JSON Schema applies these to numbers
            # only); the string form is left at DECIMAL_PATTERN.
            found["exclusiveMinimum"] = -validators.MAX_MINOR_AMOUNT
            found["exclusiveMaximum"] = validators.MAX_MINOR_AMOUNT
            found["multipleOf"] = 1 if validator.places == 0 else 10.0**-validator.places
        elif isinstance(validator, validators.Metadata):
            text = {"type": "string", "pattern": NO_CONTROL_CHARACTERS}
            found.update(
                type="object",
                maxProperties=validator.max_keys,
                propertyNames={
                    **text,
                    "minLength": 1,
                    "maxLength": validators.METADATA_KEY_LENGTH,
                    "pattern": "^[^\\[\\]\\u0000-\\u001f\\u007f-\\u009f]*$",
                },
                additionalProperties={**text, "maxLength": validators.METADATA_VALUE_LENGTH},
            )
    existing = ret.get("pattern")
    if existing and patterns:
        patterns.insert(0, existing)
    if patterns:
        found["pattern"] = patterns[0]
        extra: list[dict[str, Any]] = [{"pattern": p} for p in patterns[1:]]
        extra += [{"not": {"pattern": p}} for p in not_patterns]
        if extra:
            found["allOf"] = [*ret.get("allOf", []), *extra]
    return found


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "string"


#: A field and the keywords apispec found so far (the rule may remove some) -> keywords to add.
FieldRule = Callable[[fields.Field[Any], dict[str, Any]], dict[str, Any]]


def new_spec(
    *,
    title: str,
    version: str,
    description: str,
    request_schemas: Collection[type[Schema]] = (),
    security_schemes: Iterable[str] = (),
    tags: Iterable[tuple[str, str]] = (),
    field_rules: Iterable[FieldRule] = (),
    description_errors: Iterable[int] = (),
) -> APISpec:
    """An APISpec with the shared components, the probes, ``/openapi.json`` and ``/metrics``.

    ``request_schemas`` are the schemas the service *loads*: their fields are described by what
    marshmallow accepts (see the module docstring); every other schema by what it dumps.
    ``field_rules`` describe a service's own field classes: each gets a field and the keywords
    found so far (which it may trim), and returns keywords to add or replace (``{}`` for fields
    it ignores). ``description_errors`` are the shared errors ``GET /openapi.json`` itself can
    give (429 where a rate limit covers it).
    """
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(
        title=title,
        version=version,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": description},
    )
    converter = _Converter(request_schemas)
    assert plugin.converter is not None
    rules: list[FieldRule] = [
        converter.decimal,
        converter.boolean,
        validator_keywords,
        *field_rules,
    ]
    for number, rule in enumerate(rules):
        # apispec leaves add_attribute_function unannotated.
        plugin.converter.add_attribute_function(  # type: ignore[no-untyped-call]
            _bind(rule, f"mlconnector_rule_{number}")
        )
    spec.components.schema("Error", schema=ErrorSchema)
    for name, text, headers in _ERRORS.values():
        response: dict[str, Any] = {"description": text, "content": error_content()}
        if headers:
            response["headers"] = headers
        spec.components.response(name, response)
    for scheme in security_schemes:
        spec.components.security_scheme(scheme, SECURITY_SCHEMES[scheme])
    for name, text in (("health", "Liveness and readiness probes (no credentials)."), *tags):
        spec.tag({"name": name, "description": text})
    _describe_health(spec)
    _describe_self(spec, description_errors)
    _describe_metrics(spec, description_errors)
    return spec


def finish(spec: APISpec) -> dict[str, Any]:
    """The document as a plain dict, with parameters told apart from body fields.

    A query or path parameter is text or absent, never JSON ``null``; apispec carries a field's
    ``allow_none`` (``load_default=None``) over to the parameter, which would have clients and
    Schemathesis send an empty value the schema then refuses.
    """
    document = spec.to_dict()
    for item in document.get("paths", {}).values():
        for op in item.values():
            for parameter in op.get("parameters", []) if isinstance(op, dict) else []:
                schema = parameter.get("schema", {})
                if isinstance(schema.get("type"), list):
                    types = [t for t in schema["type"] if t != "null"]
                    schema["type"] = types[0] if len(types) == 1 else types
                if "enum" in schema:
                    schema["enum"] = [v for v in schema["enum"] if v is not None]
                if "default" in schema and schema["default"] is None:
                    del schema["default"]
    return document


def _bind(rule: FieldRule, name: str) -> Callable[..., dict[str, Any]]:
    """apispec binds attribute functions to its converter: wrap ours as plain functions."""

    def attribute(_converter: object, field: fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
        ret: dict[str, Any] = kwargs.get("ret", {})
        return rule(field, ret)

    attribute.__name__ = name
    return attribute


def _describe_health(spec: APISpec) -> None:
    spec.path(
        path="/healthz",
        operations={
            "get": {
                "operationId": "healthz",
                "tags": ["health"],
                "summary": "Liveness: the process answers.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Alive.",
                        "content": {"application/json": {"schema": HealthSchema}},
                    }
                },
            }
        },
    )
    readiness = {"application/json": {"schema": ReadinessSchema}}
    spec.path(
        path="/readyz",
        operations={
            "get": {
                "operationId": "readyz",
                "tags": ["health"],
                "summary": "Readiness: every named dependency answered within the timeout.",
                "security": [],
                "responses": {
                    "200": {"description": "Every check passed.", "content": readiness},
                    "503": {
                        "description": "At least one check failed; each is reported by name.",
                        "content": readiness,
                    },
                },
            }
        },
    )


def _describe_self(spec: APISpec, errors: Iterable[int]) -> None:
    spec.path(
        path=SPEC_PATH,
        operations={
            "get": {
                "operationId": "openapi",
                "tags": ["health"],
                "summary": "This OpenAPI description.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **error_responses(*errors),
                },
            }
        },
    )


def _describe_metrics(spec: APISpec, errors: Iterable[int]) -> None:
    spec.path(
        path=METRICS_PATH,
        operations={
            "get": {
                "operationId": "metrics",
                "tags": ["health"],
                "summary": "Prometheus metrics: aggregates only (docs/operations.md).",
                "description": "No credentials. Where a command port is configured "
                "(MLC_COMMAND_PORT) it is served there only, and is not found on the main port.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The Prometheus text exposition format (or OpenMetrics, "
                        "when the Accept header asks for it).",
                        "content": {
                            "text/plain": {"schema": {"type": "string"}},
                            "application/openmetrics-text": {"schema": {"type": "string"}},
                        },
                    },
                    **error_responses(*errors),
                },
            }
        },
    )


# -- serving ----------------------------------------------------------------------------------


def openapi_blueprint(build: SpecFactory) -> Blueprint:
    """The ``openapi`` blueprint: ``GET /openapi.json`` answers ``build()``'s document.

    Named ``openapi`` so the services' auth guards let it through without credentials: the
    description holds no secret, and callers need it before they hold a token.
    """
    bp = Blueprint(BLUEPRINT, __name__)

    @bp.get(SPEC_PATH)
    def openapi_json() -> Response:
        return jsonify(dict(build()))

    return bp


# -- truthfulness ---------------------------------------------------------------------------------


def openapi_path(rule: str) -> str:
    """``/records/<int:record_id>`` → ``/records/{record_id}``."""
    return _RULE_ARGUMENT.sub(r"{\1}", rule)


def app_operations(app: Flask) -> set[tuple[str, str]]:
    """Every (path, METHOD) a Flask app routes to a view, in OpenAPI path syntax."""
    found: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            # Flask adds it whenever a static folder is configured, even one that does not
            # exist: it serves nothing and is not part of the API.
            continue
        for method in (rule.methods or set()) - AUTOMATIC_METHODS:
            found.add((openapi_path(rule.rule), method))
    return found


def document_operations(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every (path, METHOD) an OpenAPI document describes."""
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {
        (path, method.upper())
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in methods
    }
