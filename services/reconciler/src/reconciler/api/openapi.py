"""The reconciler API's OpenAPI description, served at ``GET /openapi.json`` (issue 10).

Built from the API's marshmallow schemas (``api.schemas``), so the document cannot drift from
what the views load and dump. List answers wrap their items as ``{"data": [...],
"next_cursor": ...}`` in the views themselves; that envelope is described here around the item
schemas. Every operation but the probes and this document needs the operator bearer token.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema
from marshmallow import fields

from mlconnector.openapi import OPERATOR_AUTH
from mlconnector.openapi import PATH_SEGMENT
from mlconnector.openapi import finish
from mlconnector.openapi import json_response
from mlconnector.openapi import new_spec
from mlconnector.openapi import openapi_blueprint
from mlconnector.openapi import operation
from mlconnector.openapi import path_parameter
from reconciler import SERVICE
from reconciler.api import schemas
from reconciler.queries import MAX_ID

#: Every schema a view loads: described by what marshmallow accepts, not what it would dump.
REQUEST_SCHEMAS = (
    schemas.PageQuerySchema,
    schemas.RecordQuerySchema,
    schemas.ReplayRequestSchema,
    schemas.DriftRequestSchema,
)

# Statuses of every authenticated operation: no or a wrong token (401), rate limited (429).
_ERRORS = (401, 429)


def _date_or_datetime(field: fields.Field[Any], ret: dict[str, Any]) -> dict[str, Any]:
    """``DateOrDateTime`` reads a bare date as midnight UTC, or an aware date-time."""
    if not isinstance(field, schemas.DateOrDateTime):
        return {}
    ret.pop("format", None)
    return {"anyOf": [{"format": "date"}, {"format": "date-time"}]}


def _page(item: type[Schema]) -> dict[str, Any]:
    """A page of ``item``: ``next_cursor`` is the id to pass as ``cursor`` for the next one."""
    return {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": item},
            "next_cursor": {"type": ["integer", "null"]},
        },
        "required": ["data", "next_cursor"],
        "additionalProperties": False,
    }


def build() -> dict[str, Any]:
    """The OpenAPI document of the reconciler API."""
    spec = new_spec(
        title=SERVICE,
        version=importlib.metadata.version(SERVICE),
        description=(
            "The reconciler's operator API: sync records with their audit trails, replay of a "
            "record's source message, reconciled payouts. Inside the cluster only; never on the "
            "public ingress."
        ),
        request_schemas=REQUEST_SCHEMAS,
        security_schemes=[OPERATOR_AUTH],
        tags=[
            ("records", "Sync records, their audit trail, replay."),
            ("payouts", "Reconciled Stripe payouts."),
            ("drift", "The clearing accounts checked against Stripe (docs/accounting.md)."),
        ],
        field_rules=[_date_or_datetime],
        description_errors=[429],  # the API's overall rate limit covers it
    )
    record_id = path_parameter(
        "record_id",
        "The record's id.",
        {"type": "integer", "minimum": 0, "maximum": MAX_ID},
    )
    spec.path(
        path="/records",
        operations={
            "get": operation(
                "records_index",
                "Sync records, newest first, filtered and paged by keyset.",
                tag="records",
                security=OPERATOR_AUTH,
                parameters=[{"in": "query", "schema": schemas.RecordQuerySchema}],
                responses={"200": json_response("A page.", _page(schemas.RecordSummarySchema))},
                errors=(*_ERRORS, 422),
                also_refused={422: ["`until` not later than `since`"]},
            )
        },
    )
    spec.path(
        path="/records/{record_id}",
        operations={
            "get": operation(
                "records_show",
                "One record with its audit trail (in time order) and postings.",
                tag="records",
                security=OPERATOR_AUTH,
                parameters=[record_id],
                responses={"200": json_response("The record.", schemas.RecordDetailSchema)},
                errors=(*_ERRORS, 404),
            )
        },
    )
    spec.path(
        path="/drift-checks",
        operations={
            "post": operation(
                "drift_check",
                "Compare each Stripe clearing account in BC with Stripe now; recorded per "
                "currency as records of kind `drift`.",
                tag="drift",
                security=OPERATOR_AUTH,
                body=schemas.DriftRequestSchema,
                body_required=False,
                responses={
                    "200": json_response("Each currency's figures.", schemas.DriftResultSchema)
                },
                errors=(*_ERRORS, 400, 413, 422, 502, 503),
                description=(
                    "A gateway that cannot answer makes the check fail (502/503); nothing is "
                    "recorded then."
                ),
            )
        },
    )
    spec.path(
        path="/records/{record_id}/replay",
        operations={
            "post": operation(
                "records_replay",
                "Publish the record's source message again; audited with actor and reason.",
                tag="records",
                security=OPERATOR_AUTH,
                parameters=[record_id],
                body=schemas.ReplayRequestSchema,
                responses={
                    "202": json_response(
                        "Published; the record is pending.", schemas.ReplayResultSchema
                    )
                },
                errors=(*_ERRORS, 400, 404, 409, 413, 422, 503),
                description=(
                    "409 `not_replayable` when the record has no stored source message; 503 "
                    "`bus_unavailable` when the broker did not confirm (the record keeps its "
                    "state)."
                ),
            )
        },
    )
    spec.path(
        path="/payouts",
        operations={
            "get": operation(
                "payouts_index",
                "Reconciled payouts, newest first, paged by keyset.",
                tag="payouts",
                security=OPERATOR_AUTH,
                parameters=[{"in": "query", "schema": schemas.PageQuerySchema}],
                responses={"200": json_response("A page.", _page(schemas.PayoutSchema))},
                errors=(*_ERRORS, 422),
            )
        },
    )
    spec.path(
        path="/payouts/{stripe_payout_id}",
        operations={
            "get": operation(
                "payouts_show",
                "One payout (null until paid) with its record and audit trail.",
                tag="payouts",
                security=OPERATOR_AUTH,
                parameters=[
                    path_parameter(
                        "stripe_payout_id",
                        "The Stripe payout id (`po_...`).",
                        PATH_SEGMENT,
                    )
                ],
                responses={"200": json_response("The payout.", schemas.PayoutDetailSchema)},
                errors=(*_ERRORS, 404),
            )
        },
    )
    return finish(spec)


@functools.cache
def document() -> Mapping[str, Any]:
    """The document, built once per process on first use."""
    return build()


bp = openapi_blueprint(document)
