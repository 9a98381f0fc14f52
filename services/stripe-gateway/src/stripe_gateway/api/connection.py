"""``GET /commands/connection``: the connection report for the console's Connections page.

Always 200 when the caller is allowed: a key Stripe refuses, an account the key may not read or a
missing webhook endpoint is what the report is for, so each is a failed check in the body, not an
error status (and not the 502 the other commands give when the gateway's own key is refused).
``?timeout=`` (seconds, default 10) bounds the answer; checks Stripe has not answered by then say
so. The schemas below are what the view dumps and what the OpenAPI document shows.
"""

from __future__ import annotations

from flask import Blueprint
from flask import request
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from mlconnector.connection_schemas import CheckSchema
from mlconnector.connection_schemas import ConnectionQuerySchema
from stripe_gateway.api import dependencies
from stripe_gateway.api import dump
from stripe_gateway.connection import connection_report

bp = Blueprint("connection", __name__, url_prefix="/commands")


class KeyCheckSchema(CheckSchema):
    mode = fields.Str(validate=validate.OneOf(["test", "live", "unknown"]))
    type = fields.Str(validate=validate.OneOf(["secret", "restricted", "publishable", "unknown"]))
    masked = fields.Str(
        metadata={"description": "The prefix, and the last four characters of an accepted key."}
    )


class AccountCheckSchema(CheckSchema):
    id = fields.Str()
    name = fields.Str(allow_none=True)
    country = fields.Str(allow_none=True)
    default_currency = fields.Str(allow_none=True)
    charges_enabled = fields.Bool(allow_none=True)
    payouts_enabled = fields.Bool(allow_none=True)


class WebhookEndpointSchema(Schema):
    id = fields.Str(required=True)
    url = fields.Str(required=True)
    status = fields.Str(required=True)
    api_version = fields.Str(allow_none=True, required=True)
    enabled_events = fields.List(fields.Str(), required=True)
    missing_events = fields.List(
        fields.Str(),
        required=True,
        metadata={"description": "Events the gateway handles that this endpoint does not send."},
    )
    ours = fields.Bool(
        required=True,
        metadata={"description": "Created by register-webhook, or sending to /webhooks/stripe."},
    )


class WebhooksCheckSchema(CheckSchema):
    handled_events = fields.List(fields.Str())
    endpoints = fields.List(fields.Nested(WebhookEndpointSchema))
    missing = fields.List(
        fields.Str(), metadata={"description": "Handled events no enabled endpoint of ours sends."}
    )


class ResourceReadSchema(Schema):
    resource = fields.Str(required=True)
    ok = fields.Bool(required=True)
    status = fields.Int(
        allow_none=True, required=True, metadata={"description": "Stripe's HTTP status."}
    )
    detail = fields.Str(required=True)


class PermissionsCheckSchema(CheckSchema):
    resources = fields.List(fields.Nested(ResourceReadSchema))
    writes_needed = fields.Str()


class StripeChecksSchema(Schema):
    key = fields.Nested(KeyCheckSchema, required=True)
    account = fields.Nested(AccountCheckSchema, required=True)
    webhooks = fields.Nested(WebhooksCheckSchema, required=True)
    permissions = fields.Nested(PermissionsCheckSchema, required=True)


class StripeConnectionSchema(Schema):
    ok = fields.Bool(required=True, metadata={"description": "Every check passed."})
    checked_at = fields.AwareDateTime(required=True)
    timeout_s = fields.Float(required=True)
    checks = fields.Nested(StripeChecksSchema, required=True)


@bp.get("/connection")
def connection() -> dict[str, object]:
    """Key, account, webhook endpoints and read access, each ``{ok, detail, ...}``."""
    query = ConnectionQuerySchema().load(request.args.to_dict())
    deps = dependencies()
    report = connection_report(
        deps.stripe, deps.secrets.get("api_key", ""), timeout_s=query["timeout"]
    )
    return dump(StripeConnectionSchema(), report)
