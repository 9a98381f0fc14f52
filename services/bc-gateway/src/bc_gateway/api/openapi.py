"""bc-gateway's OpenAPI description, served at ``GET /openapi.json`` (issue 10).

Built from the command API's marshmallow schemas (``api.schemas``) and the permission table
(``api.access``), so the document cannot drift from what the views load, dump and grant. The
webhook has no marshmallow schema in the service (its parser is ``notifications``); the two small
schemas below only document what BC sends, with the limits the parser enforces.

Status codes follow the views: the command API's stable error codes (``api.__init__``) and the
webhook's, chosen for BC's subscription-deletion rule (``api.webhooks``).
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Mapping
from typing import Any

from marshmallow import INCLUDE
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from bc_gateway.api import connection
from bc_gateway.api import open_invoice_schemas
from bc_gateway.api import schemas
from bc_gateway.api.access import PERMISSIONS
from bc_gateway.api.webhooks import MAX_VALIDATION_TOKEN
from bc_gateway.notifications import CHANGE_TYPES
from bc_gateway.notifications import MAX_ELEMENTS
from bc_gateway.settings import SERVICE
from mlconnector import validators
from mlconnector.connection_schemas import ConnectionQuerySchema
from mlconnector.openapi import SERVICE_AUTH
from mlconnector.openapi import code_schema
from mlconnector.openapi import error_content
from mlconnector.openapi import finish
from mlconnector.openapi import json_response
from mlconnector.openapi import new_spec
from mlconnector.openapi import openapi_blueprint
from mlconnector.openapi import operation
from mlconnector.openapi import path_parameter

GUID = {
    "type": "string",
    "pattern": "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
}

#: Every schema a view loads: described by what marshmallow accepts, not what it would dump.
REQUEST_SCHEMAS = (
    schemas.InvoiceListQuerySchema,
    open_invoice_schemas.OpenInvoicesQuerySchema,
    schemas.CustomerLineRequestSchema,
    schemas.GeneralLinesRequestSchema,
    schemas.GeneralLineSchema,
    ConnectionQuerySchema,
)

# Statuses every command can give: no or a bad token (401), no grant (403), the identity key set
# unreadable or BC unavailable (503), BC answering unexpectedly (502). Commands are not rate
# limited (the limiter watches the webhook only).
_COMMAND_ERRORS = (401, 403, 502, 503)
_BODY_ERRORS = (400, 413, 422)


class NotificationElementSchema(Schema):
    """One element of ``value[]`` as BC sends it (bc-api.md §7.4)."""

    class Meta:
        unknown = INCLUDE

    subscription_id = fields.Str(required=True, data_key="subscriptionId")
    client_state = fields.Str(required=True, data_key="clientState")
    expiration = fields.AwareDateTime(required=True, data_key="expirationDateTime")
    resource = fields.Str(required=True)
    change_type = fields.Str(
        required=True, data_key="changeType", validate=validate.OneOf(CHANGE_TYPES)
    )
    last_modified = fields.AwareDateTime(required=True, data_key="lastModifiedDateTime")


class NotificationSchema(Schema):
    """A notification POST: ``{"value": [...]}``, at most ``MAX_ELEMENTS`` elements."""

    class Meta:
        unknown = INCLUDE

    value = fields.List(
        fields.Nested(NotificationElementSchema),
        required=True,
        validate=validate.Length(max=MAX_ELEMENTS),
    )


class NotificationAcceptedSchema(Schema):
    received = fields.Int(required=True)
    published = fields.Int(required=True)


def _command(endpoint: str, summary: str, **kwargs: Any) -> dict[str, Any]:
    """A command operation: the service token, and the grant ``api.access`` names for it."""
    blueprint = endpoint.partition(".")[0]
    return operation(
        endpoint.replace(".", "_"),
        summary,
        tag=blueprint,
        security=SERVICE_AUTH,
        permission=PERMISSIONS[endpoint],
        **kwargs,
    )


_BC_REFUSES = "BC refusing the request (`bc_rejected`, with BC's code and message)"
_NOT_CONFIGURED_JOURNAL = "a journal other than the one configured for it"


def _webhook(method: str) -> dict[str, Any]:
    handshake = {
        "name": "validationToken",
        "in": "query",
        "required": method == "get",
        "description": (
            "BC's subscription handshake: echoed back as text/plain. Present, it takes precedence "
            "over any body."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_VALIDATION_TOKEN},
    }
    responses: dict[str, Any] = {
        "200": {
            "description": "The handshake: the validation token, echoed.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        "400": {
            "description": (
                "A handshake token that is empty or too long, a GET without one, or a body BC "
                "cannot have sent (not JSON, no `value[]` list)."
            ),
            "content": error_content(),
        },
    }
    body: Any = None
    refused: dict[int, list[str]] = {}
    if method == "post":
        refused[400] = ["neither `validationToken` nor a notification body"]
        responses["202"] = json_response(
            "Every notification is durably queued (the broker confirmed each message). An "
            "element with the right `clientState` that cannot be read (an unknown "
            "`changeType`, a malformed field) is logged and skipped rather than refused: a 4xx "
            "would make BC delete the subscription. `published` counts what was queued.",
            NotificationAcceptedSchema,
        )
        responses["401"] = {
            "description": "A `clientState` is missing or wrong in some element: nothing queued.",
            "content": error_content(),
        }
        body = NotificationSchema
    return operation(
        f"bc_webhook_{method}",
        "BC webhook: the validation handshake, or change notifications.",
        tag="webhooks",
        parameters=[handshake],
        body=body,
        body_required=False,
        responses=responses,
        # 404: on the command port (MLC_COMMAND_PORT) the webhook is not served.
        errors=(404, 413, 429, 503) if method == "post" else (404, 429),
        also_refused=refused,
        description=(
            "No credentials: each element's `clientState` is the proof. Any internal failure is "
            "a 503, never a 4xx, because BC deletes a subscription on a 4xx answer."
        ),
    )


def build() -> dict[str, Any]:
    """The OpenAPI document of bc-gateway."""
    spec = new_spec(
        title=SERVICE,
        version=importlib.metadata.version(SERVICE),
        description=(
            "Owns the Business Central API, its Entra ID token and its webhooks. The command API "
            "(`/commands/...`) is for the reconciler only and may be served on a separate port "
            "(`MLC_COMMAND_PORT`); the webhook is the only route BC calls."
        ),
        request_schemas=REQUEST_SCHEMAS,
        security_schemes=[SERVICE_AUTH],
        tags=[
            ("webhooks", "BC change notifications and the subscription handshake."),
            ("invoices", "Sales invoices read from BC."),
            ("customers", "Customers read from BC."),
            ("payments", "Customer payment and refund lines in the connector's batches."),
            ("journals", "Posting the connector's batches; payout G/L lines."),
            ("connection", "The connection report for the console's Connections page."),
            ("subscriptions", "BC's webhook subscriptions, for the console's Today page."),
        ],
    )
    spec.path(path="/webhooks/bc", operations={m: _webhook(m) for m in ("get", "post")})
    invoice_id = path_parameter("invoice_id", "The BC id (GUID) of the sales invoice.", GUID)
    spec.path(
        path="/commands/invoices/{invoice_id}",
        operations={
            "get": _command(
                "invoices.get_invoice",
                "One sales invoice with its lines and customer.",
                parameters=[invoice_id],
                responses={"200": json_response("The invoice.", schemas.InvoiceSchema)},
                errors=(*_COMMAND_ERRORS, 404, 422),
            )
        },
    )
    spec.path(
        path="/commands/invoices/{invoice_id}/credit-memos",
        operations={
            "get": _command(
                "credit_memos.credit_memos_of",
                "Every sales credit memo naming the invoice (drafts included; `posted` says).",
                parameters=[invoice_id],
                responses={"200": json_response("The credit memos.", schemas.CreditMemoListSchema)},
                errors=(*_COMMAND_ERRORS, 404, 422),
            )
        },
    )
    spec.path(
        path="/commands/credit-memos/{memo_id}",
        operations={
            "get": _command(
                "credit_memos.get_credit_memo",
                "One sales credit memo with its lines and the invoice it applies to.",
                parameters=[
                    path_parameter("memo_id", "The BC id (GUID) of the credit memo.", GUID)
                ],
                responses={"200": json_response("The credit memo.", schemas.CreditMemoSchema)},
                errors=(*_COMMAND_ERRORS, 404, 422),
            )
        },
    )
    spec.path(
        path="/commands/invoices",
        operations={
            "get": _command(
                "invoices.list_invoices",
                "Every sales invoice matching the filters (all pages).",
                parameters=[{"in": "query", "schema": schemas.InvoiceListQuerySchema}],
                responses={"200": json_response("The invoices.", schemas.InvoiceListSchema)},
                errors=(*_COMMAND_ERRORS, 404, 422),
            )
        },
    )
    spec.path(
        path="/commands/invoices/open",
        operations={
            "get": _command(
                "invoices.open_invoices",
                "Open sales invoices an unmatched payment may pay, by due date (at most `top`).",
                parameters=[
                    {"in": "query", "schema": open_invoice_schemas.OpenInvoicesQuerySchema}
                ],
                responses={
                    "200": json_response(
                        "The matches; `more` says the answer may leave some out.",
                        open_invoice_schemas.OpenInvoiceListSchema,
                    )
                },
                errors=(*_COMMAND_ERRORS, 422),
                description=(
                    "Criteria combine with and. `q` is an invoice number prefix, a customer "
                    "number or part of the customer name (case-insensitive); `customerEmail` "
                    "matches the invoice's e-mail; `currency` is ISO (the local currency "
                    "included); `amount` is the remaining amount, exactly."
                ),
                also_refused={
                    422: [
                        "a blank `q`",
                        "an `amount` that is not positive, or has more decimals than "
                        "`currency` has",
                        _BC_REFUSES,
                    ]
                },
            )
        },
    )
    spec.path(
        path="/commands/customers/{customer_id}",
        operations={
            "get": _command(
                "customers.get_customer",
                "One customer; a blank currency is reported as the local currency.",
                parameters=[path_parameter("customer_id", "The BC id (GUID).", GUID)],
                responses={"200": json_response("The customer.", schemas.CustomerSchema)},
                errors=(*_COMMAND_ERRORS, 404, 422),
            )
        },
    )
    line = {
        "200": json_response(
            "The line already existed (or was already posted).", schemas.CustomerLineResultSchema
        ),
        "201": json_response("The line was created.", schemas.CustomerLineResultSchema),
    }
    for path, endpoint, summary in (
        ("/commands/payments", "payments.create_payment", "Record a customer payment line."),
        ("/commands/refunds", "payments.create_refund", "Record a customer refund line."),
    ):
        spec.path(
            path=path,
            operations={
                "post": _command(
                    endpoint,
                    summary,
                    body=schemas.CustomerLineRequestSchema,
                    responses=line,
                    errors=(*_COMMAND_ERRORS, *_BODY_ERRORS, 404),
                    description="Idempotent by external document number.",
                    also_refused={
                        422: [
                            "an amount whose sign does not fit `kind` (payments negative, "
                            "refunds positive)",
                            "more decimals than the currency has",
                            "a currency other than the invoice's or its customer's",
                            "a payment above the invoice's remaining amount without "
                            "`overpayment` (`amount_exceeds_remaining`)",
                            _NOT_CONFIGURED_JOURNAL,
                            _BC_REFUSES,
                        ]
                    },
                )
            },
        )
    spec.path(
        path="/commands/payment-journals/{journal}/post",
        operations={
            "post": _command(
                "journals.post_payment_journal",
                "Post every line of one of the connector's payment or refund batches.",
                parameters=[
                    path_parameter(
                        "journal",
                        "The batch code: the configured payment or refund journal.",
                        code_schema(validators.JOURNAL_CODE),
                    ),
                    {"in": "query", "schema": schemas.PostJournalQuerySchema},
                ],
                body=schemas.PostJournalRequestSchema,
                body_required=False,
                responses={
                    "200": json_response("The batch was posted.", schemas.PostJournalResultSchema)
                },
                errors=(*_COMMAND_ERRORS, *_BODY_ERRORS, 404),
                also_refused={422: [_NOT_CONFIGURED_JOURNAL, _BC_REFUSES]},
            )
        },
    )
    spec.path(
        path="/commands/general-journal-lines",
        operations={
            "post": _command(
                "journals.general_journal_lines",
                "Write payout G/L lines (idempotent), and optionally post them.",
                body=schemas.GeneralLinesRequestSchema,
                responses={
                    "200": json_response(
                        "What happened to each line.", schemas.GeneralLinesResultSchema
                    )
                },
                errors=(*_COMMAND_ERRORS, *_BODY_ERRORS, 404),
                also_refused={
                    422: [
                        "a `limit` that is not positive, or a line amount of zero or above it",
                        "more decimals than the command's currency has",
                        "`currency_mismatch`: a line BC would book in another currency than "
                        "the command's (a foreign currency needs its bank account on one side)",
                        _NOT_CONFIGURED_JOURNAL,
                        _BC_REFUSES,
                    ]
                },
            )
        },
    )
    spec.path(
        path="/commands/gl-accounts/{number}/balance",
        operations={
            "get": _command(
                "journals.account_balance",
                "A G/L account's balance in the local currency, from its G/L entries.",
                parameters=[
                    path_parameter(
                        "number", "A G/L account number.", code_schema(validators.ACCOUNT_NUMBER)
                    )
                ],
                responses={"200": json_response("The balance.", schemas.AccountBalanceSchema)},
                errors=(*_COMMAND_ERRORS, 422),
            )
        },
    )
    spec.path(
        path="/commands/lcy-amounts",
        operations={
            "post": _command(
                "journals.lcy_amounts",
                "BC's local-currency value of amounts in another currency on a posting date.",
                body=schemas.LcyAmountsRequestSchema,
                responses={
                    "200": json_response(
                        "Each amount in the local currency.", schemas.LcyAmountsResultSchema
                    )
                },
                errors=(*_COMMAND_ERRORS, *_BODY_ERRORS, 404),
                also_refused={
                    422: ["a rate BC quotes through a relational currency"],
                },
            )
        },
    )
    spec.path(
        path="/commands/connection",
        operations={
            "get": _command(
                "connection.connection",
                "Check the token, the company, the permissions and the webhook subscriptions.",
                parameters=[{"in": "query", "schema": ConnectionQuerySchema}],
                responses={
                    "200": json_response(
                        "Every check with `ok` and a `detail` to act on; a failed check is "
                        "part of the report, not an error.",
                        connection.BcConnectionSchema,
                    )
                },
                # No 502: BC's refusals are what the report is about.
                errors=(401, 403, 422, 503),
                description=(
                    "Answers within `timeout` seconds; a check BC has not answered by then says "
                    "so. Nothing secret is included (no token, no client secret, no "
                    "`clientState`)."
                ),
            )
        },
    )
    spec.path(
        path="/commands/subscriptions",
        operations={
            "get": _command(
                "subscriptions.list_subscriptions",
                "BC's webhook subscriptions: expiry, whether ours, whether due for renewal.",
                responses={
                    "200": json_response(
                        "Every subscription BC holds for the app (one BC call).",
                        schemas.SubscriptionListSchema,
                    )
                },
                errors=(*_COMMAND_ERRORS, 404, 422),
                description=(
                    "The connection report's subscription rows without its other checks. "
                    "`ours`: this gateway's notification URL on the configured company; "
                    "`expiring_soon`: within the renewal margin, judged on BC's clock. Never a "
                    "subscription's `clientState`."
                ),
                also_refused={422: [_BC_REFUSES]},
            )
        },
    )
    return finish(spec)


@functools.cache
def document() -> Mapping[str, Any]:
    """The document, built once per process on first use."""
    return build()


bp = openapi_blueprint(document)
