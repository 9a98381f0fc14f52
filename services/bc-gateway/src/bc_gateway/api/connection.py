"""``GET /commands/connection``: the connection report for the console's Connections page.

Always 200 when the caller is allowed: a token Entra refuses, a company BC does not know or a
missing subscription is what the report is for, so each is a failed check in the body, not an
error status. ``?timeout=`` (seconds, default 10) bounds the answer; checks BC has not answered
by then say so. The schemas below are what the view dumps and what the OpenAPI document shows.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import request
from marshmallow import Schema
from marshmallow import fields

from bc_gateway.api import dependencies
from bc_gateway.api.schemas import SubscriptionSchema
from bc_gateway.connection import connection_report
from mlconnector.connection_schemas import CheckSchema
from mlconnector.connection_schemas import ConnectionQuerySchema

bp = Blueprint("connection", __name__, url_prefix="/commands")


class TokenCheckSchema(CheckSchema):
    authority_host = fields.Str(allow_none=True)
    tenant_id = fields.Str(allow_none=True)
    client_id = fields.Str(allow_none=True)
    expires_at = fields.AwareDateTime(allow_none=True)
    aadsts = fields.Int(allow_none=True, metadata={"description": "Entra's AADSTS error code."})


class CompanyCheckSchema(CheckSchema):
    id = fields.Str()
    environment = fields.Str()
    name = fields.Str(allow_none=True)
    reachable = fields.Bool()


class EntityReadSchema(Schema):
    entity = fields.Str(required=True)
    ok = fields.Bool(required=True)
    status = fields.Int(
        allow_none=True, required=True, metadata={"description": "BC's HTTP status; null: none."}
    )
    detail = fields.Str(required=True)


class PermissionsCheckSchema(CheckSchema):
    entities = fields.List(fields.Nested(EntityReadSchema))


class SubscriptionsCheckSchema(CheckSchema):
    notification_url = fields.Str(allow_none=True)
    renew_margin_hours = fields.Float()
    subscriptions = fields.List(fields.Nested(SubscriptionSchema))
    missing = fields.List(
        fields.Str(), metadata={"description": "Entity sets without a live subscription of ours."}
    )


class BcChecksSchema(Schema):
    token = fields.Nested(TokenCheckSchema, required=True)
    company = fields.Nested(CompanyCheckSchema, required=True)
    permissions = fields.Nested(PermissionsCheckSchema, required=True)
    subscriptions = fields.Nested(SubscriptionsCheckSchema, required=True)


class BcConnectionSchema(Schema):
    ok = fields.Bool(required=True, metadata={"description": "Every check passed."})
    checked_at = fields.AwareDateTime(required=True)
    timeout_s = fields.Float(required=True)
    checks = fields.Nested(BcChecksSchema, required=True)


@bp.get("/connection")
def connection() -> dict[str, Any]:
    """Token, company, permissions and webhook subscriptions, each ``{ok, detail, ...}``."""
    query = ConnectionQuerySchema().load(request.args.to_dict())
    deps = dependencies()
    report = connection_report(
        deps.settings,
        deps.secrets.get("client_id", ""),
        deps.tokens,
        deps.bc,
        timeout_s=query["timeout"],
    )
    result: dict[str, Any] = BcConnectionSchema().dump(report)
    return result
