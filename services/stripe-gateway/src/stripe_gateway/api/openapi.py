"""stripe-gateway's OpenAPI description, served at ``GET /openapi.json`` (issue 10).

Built from the command API's marshmallow schemas (``api.schemas``) and the permission table
(``api.access``), so the document cannot drift from what the views load, dump and grant. The
webhook body has no marshmallow schema in the service (``envelopes`` reads the event); the
schemas below only document the Stripe event as Stripe sends it, with what ``envelopes`` and the
message contract require of it, and the ``Stripe-Signature`` header as the proof of origin.

Status codes follow the views and ``errors``: ``stripe_unavailable`` 503 with ``Retry-After``,
``stripe_rejected`` 422, ``not_found`` 404, the 409s (``total_mismatch``,
``idempotency_conflict``, ``invalid_state``, ``payout_not_reconciled``) and the 502s for the
gateway's own Stripe key.
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

from mlconnector.connection_schemas import ConnectionQuerySchema
from mlconnector.openapi import SERVICE_AUTH
from mlconnector.openapi import currency_pattern
from mlconnector.openapi import error_content
from mlconnector.openapi import finish
from mlconnector.openapi import json_response
from mlconnector.openapi import new_spec
from mlconnector.openapi import openapi_blueprint
from mlconnector.openapi import operation
from mlconnector.openapi import path_parameter
from stripe_gateway.api import connection
from stripe_gateway.api import reference_schemas
from stripe_gateway.api import schemas
from stripe_gateway.api.access import PERMISSIONS
from stripe_gateway.api.webhooks import SIGNATURE_HEADER
from stripe_gateway.events import KNOWN_EVENTS
from stripe_gateway.settings import SERVICE
from stripe_gateway.webhook_signature import MAX_HEADER_LENGTH

#: Every schema a view loads: described by what marshmallow accepts, not what it would dump.
REQUEST_SCHEMAS = (
    schemas.EnsureCustomerSchema,
    schemas.PushInvoiceSchema,
    schemas.InvoiceLineSchema,
    schemas.FindByBcQuerySchema,
    schemas.CreditInvoiceSchema,
    schemas.PaidElsewhereSchema,
    reference_schemas.BcReferencesSchema,
    ConnectionQuerySchema,
)

STRIPE_SIGNATURE = "stripeSignature"
#: The latest time ``datetime.fromtimestamp`` represents (9999-12-31T23:59:59Z).
_MAX_TIMESTAMP = 253402300799

# Statuses every command can give: no or a bad token (401), no grant (403), Stripe or the
# identity key set unavailable (503), the gateway's own Stripe key refused (502). Body commands
# add an unreadable body (400), no JSON content type (415), too large (413), refused (422).
_COMMAND_ERRORS = (401, 403, 502, 503)
_STRIPE_REFUSES = "Stripe refusing the request (`stripe_rejected`)"
_BODY_ERRORS = (400, 413, 415, 422)


def _stripe_id(*prefixes: str) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^(?:{'|'.join(prefixes)})_[A-Za-z0-9]+$"}


class EventObjectSchema(Schema):
    """``data.object``: any Stripe object; the gateway needs its ``id`` and ``object`` type."""

    class Meta:
        unknown = INCLUDE

    id = fields.Str(required=True, validate=validate.Length(min=1))
    object = fields.Str(required=True)


class EventDataSchema(Schema):
    class Meta:
        unknown = INCLUDE

    object = fields.Nested(EventObjectSchema, required=True)
    previous_attributes = fields.Dict(allow_none=True)


class StripeEventSchema(Schema):
    """A Stripe event as delivered to a webhook endpoint (stripe-api.md §10)."""

    class Meta:
        unknown = INCLUDE

    id = fields.Str(required=True, validate=validate.Regexp(r"^evt_[A-Za-z0-9_]+$"))
    object = fields.Str(validate=validate.OneOf(["event"]))
    api_version = fields.Str(allow_none=True)
    created = fields.Int(strict=True, required=True, validate=validate.Range(0, _MAX_TIMESTAMP))
    data = fields.Nested(EventDataSchema, required=True)
    livemode = fields.Bool(required=True)
    pending_webhooks = fields.Int(strict=True)
    type = fields.Str(required=True, validate=validate.OneOf(sorted(KNOWN_EVENTS)))


class WebhookReceivedSchema(Schema):
    received = fields.Bool(required=True)
    published = fields.Bool(required=True)
    id = fields.Str()


def _push_currency(field: fields.Field[Any], ret: dict[str, Any]) -> dict[str, Any]:
    """``PushInvoiceSchema.currency`` is checked by a ``@validates`` method: any known code."""
    if isinstance(field.parent, schemas.PushInvoiceSchema) and field.name == "currency":
        return {"pattern": currency_pattern()}
    return {}


def _command(endpoint: str, summary: str, **kwargs: Any) -> dict[str, Any]:
    """A command operation: the service token, and the grant ``api.access`` names for it."""
    blueprint, _, view = endpoint.partition(".")
    return operation(
        f"{blueprint}_{view}",
        summary,
        tag=blueprint,
        security=SERVICE_AUTH,
        permission=PERMISSIONS[endpoint],
        **kwargs,
    )


def _webhook() -> dict[str, Any]:
    return operation(
        "stripe_webhook",
        "Receive one Stripe event delivery.",
        tag="webhooks",
        security=STRIPE_SIGNATURE,
        body=StripeEventSchema,
        responses={
            "200": json_response(
                "Verified. A handled event type is durably queued (`published: true`); any "
                "other type is acknowledged and dropped (`published: false`).",
                WebhookReceivedSchema,
            ),
            "400": {
                "description": (
                    "`invalid_signature`: the header is missing or malformed, the timestamp is "
                    "outside the tolerance (either direction), or no `v1` matches an active "
                    "secret; `invalid_payload`: a verified body that is not a Stripe event."
                ),
                "content": error_content(),
            },
        },
        errors=(404, 413, 429, 503),  # 404: not served on the command port (MLC_COMMAND_PORT)
        also_refused={
            400: [
                "a `Stripe-Signature` that does not verify over the raw body with an active "
                "secret, or whose timestamp is outside the tolerance"
            ]
        },
        description=(
            "The `Stripe-Signature` header over the raw body is the proof of origin; every "
            "verification failure is the same 400. 503 (`not_queued`) when the broker did not "
            "confirm, so Stripe delivers again."
        ),
    )


def build() -> dict[str, Any]:
    """The OpenAPI document of stripe-gateway."""
    spec = new_spec(
        title=SERVICE,
        version=importlib.metadata.version(SERVICE),
        description=(
            "Owns the Stripe API key, the Stripe SDK calls and the Stripe webhooks. The command "
            "API (`/commands/...`) is for the reconciler only and may be served on a separate "
            "port (`MLC_COMMAND_PORT`); the ingress exposes `/webhooks/stripe` alone."
        ),
        request_schemas=REQUEST_SCHEMAS,
        security_schemes=[SERVICE_AUTH],
        tags=[
            ("webhooks", "Stripe event deliveries."),
            ("customers", "Stripe customers of BC customers."),
            ("invoices", "Stripe invoices of BC invoices."),
            ("charges", "Charges read from Stripe, and a person's match written on them."),
            ("disputes", "Disputes and the money they moved, read from Stripe."),
            ("balance", "The balance, its transactions and payouts, for the drift check."),
            ("payouts", "Payouts and their balance transactions read from Stripe."),
            ("connection", "The connection report for the console's Connections page."),
        ],
        field_rules=[_push_currency],
    )
    spec.components.security_scheme(
        STRIPE_SIGNATURE,
        {
            "type": "apiKey",
            "in": "header",
            "name": SIGNATURE_HEADER,
            "description": (
                '`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` keyed with the '
                f"endpoint's signing secret; several `v1` during a secret roll; at most "
                f"{MAX_HEADER_LENGTH} characters."
            ),
        },
    )
    spec.path(path="/webhooks/stripe", operations={"post": _webhook()})
    ensured = schemas.EnsuredCustomerSchema
    spec.path(
        path="/commands/customers/ensure",
        operations={
            "post": _command(
                "customers.ensure",
                "Match or create the Stripe customer of a BC customer.",
                body=schemas.EnsureCustomerSchema,
                responses={
                    "200": json_response("Found (and possibly updated).", ensured),
                    "201": json_response("Created.", ensured),
                },
                errors=(*_COMMAND_ERRORS, *_BODY_ERRORS, 404, 409),
                also_refused={
                    422: [
                        "an `email` that marshmallow's e-mail check refuses (it is stricter "
                        "than the `email` format: a top-level domain of one letter, say)",
                        _STRIPE_REFUSES,
                    ]
                },
            )
        },
    )
    pushed = schemas.PushedInvoiceSchema
    spec.path(
        path="/commands/invoices",
        operations={
            "post": _command(
                "invoices.push",
                "Create (or resume) and finalize the Stripe invoice of a BC invoice.",
                body=schemas.PushInvoiceSchema,
                responses={
                    "200": json_response("Resumed or already finalized.", pushed),
                    "201": json_response("The draft was created by this call.", pushed),
                },
                errors=(*_COMMAND_ERRORS, *_BODY_ERRORS, 404, 409),
                description=(
                    "409 `total_mismatch` leaves the invoice in draft when Stripe's total is not "
                    "`expected_total_minor`."
                ),
                also_refused={
                    409: ["line amounts that do not add up to `expected_total_minor`"],
                    422: [
                        "a negative total, or one Stripe cannot charge in the currency",
                        _STRIPE_REFUSES,
                    ],
                },
            )
        },
    )
    spec.path(
        path="/commands/invoices/by-bc",
        operations={
            "get": _command(
                "invoices.find_by_bc",
                "The Stripe invoice made for a BC invoice, found by its metadata.",
                parameters=[{"in": "query", "schema": schemas.FindByBcQuerySchema}],
                responses={
                    "200": json_response(
                        "The preferred match (a non-void one, then the oldest), or "
                        "`invoice: null` when no invoice carries both BC ids.",
                        schemas.FoundInvoiceSchema,
                    )
                },
                errors=(*_COMMAND_ERRORS, 404, 422),
                description=(
                    "With `stripe_customer_id` the customer's invoices are listed (strongly "
                    "consistent: `matched_by: customer`); without it Stripe's Search API is "
                    "used (`matched_by: search`), which may miss an invoice created within the "
                    "last minute or so. 404 `not_found` for an unknown customer."
                ),
            )
        },
    )
    invoice_id = path_parameter("invoice_id", "A Stripe invoice id.", _stripe_id("in"))
    without_payments = schemas.InvoiceSchema(exclude=("payments",))
    spec.path(
        path="/commands/invoices/{invoice_id}",
        operations={
            "get": _command(
                "invoices.read",
                "An invoice with every payment (PaymentIntent and charge ids, amounts).",
                parameters=[invoice_id],
                responses={"200": json_response("The invoice.", schemas.InvoiceSchema)},
                errors=(*_COMMAND_ERRORS, 404, 409, 422),
            )
        },
    )
    for action, view, summary in (
        ("void", "void", "Void a finalized invoice."),
        ("mark-paid-out-of-band", "mark_paid_out_of_band", "Mark an invoice paid outside Stripe."),
        ("send", "send", "Stripe e-mails the invoice to the client (send_invoice invoices)."),
    ):
        spec.path(
            path=f"/commands/invoices/{{invoice_id}}/{action}",
            operations={
                "post": _command(
                    f"invoices.{view}",
                    summary,
                    parameters=[invoice_id],
                    responses={"200": json_response("The invoice now.", without_payments)},
                    errors=(*_COMMAND_ERRORS, 404, 409, 413, 422),
                )
            },
        )
    for action, view, summary, body, ok in (
        (
            "credit-notes",
            "credit",
            "A credit note for a BC credit memo (the rest after payment: customer balance or "
            "credited outside Stripe, never a refund).",
            schemas.CreditInvoiceSchema,
            "201",
        ),
        (
            "paid-elsewhere",
            "paid_elsewhere",
            "Money the client paid outside Stripe: the whole remainder out of band, or a payment "
            "record for a part.",
            schemas.PaidElsewhereSchema,
            "200",
        ),
    ):
        spec.path(
            path=f"/commands/invoices/{{invoice_id}}/{action}",
            operations={
                "post": _command(
                    f"invoices.{view}",
                    summary,
                    parameters=[invoice_id],
                    body=body,
                    responses={
                        ok: json_response(
                            "The invoice and the change.", schemas.InvoiceChangeSchema
                        ),
                        **(
                            {"200": json_response("Made before.", schemas.InvoiceChangeSchema)}
                            if ok == "201"
                            else {}
                        ),
                    },
                    errors=(*_COMMAND_ERRORS, 400, 404, 409, 413, 415, 422),
                    description="409 `invalid_state` when the invoice cannot take the change.",
                    also_refused={
                        422: [
                            "an amount in minor units written with a fraction part, even `.0` "
                            "(JSON integers only)"
                        ]
                    },
                )
            },
        )
    spec.path(
        path="/commands/invoices/{invoice_id}/delete-draft",
        operations={
            "post": _command(
                "invoices.delete_draft",
                "Delete a draft invoice (one left by an earlier push that is no longer wanted).",
                parameters=[invoice_id],
                responses={
                    "200": json_response(
                        "Deleted now (`deleted_now: true`) or already gone.",
                        schemas.DeletedDraftSchema,
                    )
                },
                errors=(*_COMMAND_ERRORS, 409, 413, 422),
                description="409 `invalid_state` when the invoice is no longer a draft.",
            )
        },
    )
    spec.path(
        path="/commands/charges/{charge_id}",
        operations={
            "get": _command(
                "charges.read",
                "A charge with its refunds, balance transaction and invoice.",
                parameters=[
                    path_parameter("charge_id", "A Stripe charge id.", _stripe_id("ch", "py"))
                ],
                responses={"200": json_response("The charge.", schemas.ChargeSchema)},
                errors=(*_COMMAND_ERRORS, 404, 409, 422),
            )
        },
    )
    spec.path(
        path="/commands/charges/{charge_id}/invoice-payment",
        operations={
            "get": _command(
                "charges.invoice_payment",
                "The invoice a charge paid, in one Stripe call (the charge's PaymentIntent known).",
                parameters=[
                    path_parameter("charge_id", "A Stripe charge id.", _stripe_id("ch", "py")),
                    {
                        "name": "payment_intent",
                        "in": "query",
                        "required": True,
                        "description": "The charge's PaymentIntent id.",
                        "schema": _stripe_id("pi"),
                    },
                ],
                responses={
                    "200": json_response(
                        "The invoice and the invoice payment, or nulls when the charge paid "
                        "no invoice through this PaymentIntent.",
                        schemas.ChargeInvoicePaymentSchema,
                    )
                },
                errors=(*_COMMAND_ERRORS, 409, 422),
            )
        },
    )
    spec.path(
        path="/commands/charges/{charge_id}/bc-references",
        operations={
            "post": _command(
                "charges.bc_references",
                "Write the BC invoice a person matched a payment to into the metadata of the "
                "charge and its PaymentIntent.",
                parameters=[
                    path_parameter("charge_id", "A Stripe charge id.", _stripe_id("ch", "py"))
                ],
                body=reference_schemas.BcReferencesSchema,
                responses={
                    "200": json_response(
                        "The charge's BC references now (`bc_company_id`, `bc_invoice_id`, "
                        "`bc_invoice_number`, `bc_matched_by`); `unchanged: true` when the "
                        "charge and its PaymentIntent already said so. `invoice` is the Stripe "
                        "invoice the charge paid, whose metadata is never written here (the "
                        "reconciler posts an invoice payment from that invoice's metadata).",
                        reference_schemas.BcReferencesWrittenSchema,
                    )
                },
                errors=(*_COMMAND_ERRORS, *_BODY_ERRORS, 404, 409),
                description=(
                    "Keys not named here are kept (Stripe merges metadata). The person who "
                    "matched first stays `bc_matched_by`. 404 `not_found` for an unknown charge."
                ),
                also_refused={
                    409: [
                        "a charge or PaymentIntent whose metadata already names another BC "
                        "invoice (`already_matched`; nothing is written)"
                    ],
                    422: [_STRIPE_REFUSES],
                },
            )
        },
    )
    since = {
        "name": "created_gte",
        "in": "query",
        "required": True,
        "description": "Unix time in seconds: objects created since then.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
    }
    for path, endpoint, summary, schema in (
        (
            "/commands/balance",
            "balance.balance",
            "Stripe's balance per currency.",
            schemas.BalanceSchema,
        ),
        (
            "/commands/balance-transactions",
            "balance.transactions",
            "Every balance transaction created since a time.",
            schemas.TransactionListSchema,
        ),
        (
            "/commands/payouts",
            "balance.payouts",
            "Every payout created since a time.",
            schemas.PayoutListSchema,
        ),
    ):
        spec.path(
            path=path,
            operations={
                "get": _command(
                    endpoint,
                    summary,
                    parameters=[] if endpoint == "balance.balance" else [since],
                    responses={"200": json_response(summary, schema)},
                    errors=(*_COMMAND_ERRORS, 422),
                )
            },
        )
    dispute_id = path_parameter("dispute_id", "A Stripe dispute id.", _stripe_id("du"))
    spec.path(
        path="/commands/disputes/{dispute_id}",
        operations={
            "get": _command(
                "disputes.read",
                "A dispute with the balance transactions it moved.",
                parameters=[dispute_id],
                responses={"200": json_response("The dispute.", schemas.DisputeSchema)},
                errors=(*_COMMAND_ERRORS, 404, 422),
            )
        },
    )
    payout_id = path_parameter("payout_id", "A Stripe payout id.", _stripe_id("po"))
    spec.path(
        path="/commands/payouts/{payout_id}",
        operations={
            "get": _command(
                "payouts.read",
                "A payout.",
                parameters=[payout_id],
                responses={"200": json_response("The payout.", schemas.PayoutSchema)},
                errors=(*_COMMAND_ERRORS, 404, 409, 422),
            )
        },
    )
    spec.path(
        path="/commands/payouts/{payout_id}/balance-transactions",
        operations={
            "get": _command(
                "payouts.balance_transactions",
                "Every balance transaction of a payout (all pages).",
                parameters=[payout_id],
                responses={
                    "200": json_response("The transactions.", schemas.PayoutTransactionsSchema)
                },
                errors=(*_COMMAND_ERRORS, 404, 409, 422),
                description="409 `payout_not_reconciled` until Stripe finished reconciling it.",
            )
        },
    )
    spec.path(
        path="/commands/connection",
        operations={
            "get": _command(
                "connection.connection",
                "Check the key, the account, the webhook endpoints and read access.",
                parameters=[{"in": "query", "schema": ConnectionQuerySchema}],
                responses={
                    "200": json_response(
                        "Every check with `ok` and a `detail` to act on; a failed check is "
                        "part of the report, not an error.",
                        connection.StripeConnectionSchema,
                    )
                },
                # No 502: a refused key is what the report is about.
                errors=(401, 403, 422, 503),
                description=(
                    "Answers within `timeout` seconds; a check Stripe has not answered by then "
                    "says so. The key is shown masked (prefix, and the last four characters "
                    "of a key Stripe accepts), never whole."
                ),
            )
        },
    )
    return finish(spec)


@functools.cache
def document() -> Mapping[str, Any]:
    """The document, built once per process on first use."""
    return build()


bp = openapi_blueprint(document)
