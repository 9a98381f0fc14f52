"""Request and response schemas of the command API (marshmallow 4).

Requests are strict: unknown fields, floats or strings where minor units are expected, unknown
currencies and metadata Stripe would refuse (more than 50 keys, keys over 40 characters or with
square brackets, values over 500 characters) all fail with 422 ``validation_failed`` before any
Stripe call. Loaded requests become the services' command dataclasses. Response schemas list
exactly what the gateway promises to return, so a field added to a Stripe object does not leak
into the contract by accident.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate
from marshmallow import validates

from mlconnector import money
from stripe_gateway.services.customers import EnsureCustomer
from stripe_gateway.services.invoices import InvoiceLine
from stripe_gateway.services.invoices import PushInvoice

MAX_AMOUNT_MINOR = 10**12
_ID = validate.Length(min=1, max=100)
_OUR_METADATA_KEYS = 4  # bc_company_id, bc_invoice_id, bc_invoice_number, bc_customer_number


class MinorUnits(fields.Integer):
    """An integer count of minor units: JSON integers only (no floats, strings or booleans)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            strict=True,
            validate=validate.Range(min=-MAX_AMOUNT_MINOR, max=MAX_AMOUNT_MINOR),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


def _metadata_key(key: str) -> None:
    if not 1 <= len(key) <= 40 or "[" in key or "]" in key:
        raise ValidationError("metadata keys are 1-40 characters without '[' or ']'")


def metadata_field(max_keys: int = 50) -> fields.Dict:
    return fields.Dict(
        keys=fields.Str(validate=_metadata_key),
        values=fields.Str(validate=validate.Length(max=500)),
        load_default=dict,
        validate=validate.Length(max=max_keys),
    )


class EnsureCustomerSchema(Schema):
    bc_company_id = fields.Str(required=True, validate=_ID)
    bc_customer_id = fields.Str(required=True, validate=_ID)
    bc_customer_number = fields.Str(required=True, validate=_ID)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=256))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=512))
    link_hint = fields.Str(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^cus_[A-Za-z0-9]+$")
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> EnsureCustomer:
        return EnsureCustomer(**data)


class InvoiceLineSchema(Schema):
    description = fields.Str(required=True, validate=validate.Length(min=1, max=500))
    amount_minor = MinorUnits(required=True)
    quantity = fields.Int(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(min=1)
    )
    metadata = metadata_field()

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> InvoiceLine:
        return InvoiceLine(**data)


class PushInvoiceSchema(Schema):
    bc_company_id = fields.Str(required=True, validate=_ID)
    bc_invoice_id = fields.Str(required=True, validate=_ID)
    bc_invoice_number = fields.Str(required=True, validate=_ID)
    bc_customer_number = fields.Str(required=True, validate=_ID)
    stripe_customer_id = fields.Str(required=True, validate=validate.Regexp(r"^cus_[A-Za-z0-9]+$"))
    currency = fields.Str(required=True)
    days_until_due = fields.Int(strict=True, required=True, validate=validate.Range(0, 3650))
    metadata = metadata_field(50 - _OUR_METADATA_KEYS)
    lines = fields.List(
        fields.Nested(InvoiceLineSchema), required=True, validate=validate.Length(1, 250)
    )
    expected_total_minor = MinorUnits(required=True)
    attempt = fields.Int(strict=True, load_default=1, validate=validate.Range(min=1))

    @validates("currency")
    def _currency(self, value: str, **_: Any) -> None:
        try:
            money.rules(value)
        except money.MoneyError as exc:
            raise ValidationError(str(exc)) from None

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> PushInvoice:
        return PushInvoice(
            **{
                **data,
                "currency": money.normalize_currency(data["currency"]),
                "lines": tuple(data["lines"]),
            },
        )


# -- responses ------------------------------------------------------------------------------


class EnsuredCustomerSchema(Schema):
    stripe_customer_id = fields.Str()
    created = fields.Bool()
    updated = fields.Bool()
    matched_by = fields.Str()
    name = fields.Str(allow_none=True)
    email = fields.Str(allow_none=True)
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())


class InvoicePaymentSchema(Schema):
    id = fields.Str()
    status = fields.Str(allow_none=True)
    amount_paid = fields.Int(allow_none=True)
    amount_requested = fields.Int(allow_none=True)
    currency = fields.Str(allow_none=True)
    is_default = fields.Bool(allow_none=True)
    paid_at = fields.Int(allow_none=True)
    payment_type = fields.Str(allow_none=True)
    payment_intent = fields.Str(allow_none=True)
    charge = fields.Str(allow_none=True)


class InvoiceSchema(Schema):
    id = fields.Str()
    number = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    currency = fields.Str(allow_none=True)
    customer = fields.Str(allow_none=True)
    total = fields.Int(allow_none=True)
    subtotal = fields.Int(allow_none=True)
    amount_due = fields.Int(allow_none=True)
    amount_paid = fields.Int(allow_none=True)
    amount_remaining = fields.Int(allow_none=True)
    created = fields.Int(allow_none=True)
    due_date = fields.Int(allow_none=True)
    hosted_invoice_url = fields.Str(allow_none=True)
    finalized_at = fields.Int(allow_none=True)
    paid_at = fields.Int(allow_none=True)
    voided_at = fields.Int(allow_none=True)
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())
    payments = fields.List(fields.Nested(InvoicePaymentSchema))


class PushedInvoiceSchema(InvoiceSchema):
    created_now = fields.Bool()
    resumed = fields.Bool()
    finalized_now = fields.Bool()


class FeeDetailSchema(Schema):
    amount = fields.Int(allow_none=True)
    currency = fields.Str(allow_none=True)
    type = fields.Str(allow_none=True)
    description = fields.Str(allow_none=True)


class BalanceTransactionSchema(Schema):
    id = fields.Str()
    type = fields.Str(allow_none=True)
    reporting_category = fields.Str(allow_none=True)
    amount = fields.Int(allow_none=True)
    fee = fields.Int(allow_none=True)
    net = fields.Int(allow_none=True)
    currency = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    available_on = fields.Int(allow_none=True)
    created = fields.Int(allow_none=True)
    source = fields.Str(allow_none=True)
    fee_details = fields.List(fields.Nested(FeeDetailSchema))


class RefundSchema(Schema):
    id = fields.Str()
    amount = fields.Int(allow_none=True)
    currency = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    reason = fields.Str(allow_none=True)
    created = fields.Int(allow_none=True)
    balance_transaction = fields.Str(allow_none=True)
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())


class ChargeSchema(Schema):
    id = fields.Str()
    amount = fields.Int(allow_none=True)
    amount_captured = fields.Int(allow_none=True)
    amount_refunded = fields.Int(allow_none=True)
    refunded = fields.Bool(allow_none=True)
    paid = fields.Bool(allow_none=True)
    status = fields.Str(allow_none=True)
    currency = fields.Str(allow_none=True)
    customer = fields.Str(allow_none=True)
    payment_intent = fields.Str(allow_none=True)
    created = fields.Int(allow_none=True)
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())
    balance_transaction = fields.Nested(BalanceTransactionSchema, allow_none=True)
    refunds = fields.List(fields.Nested(RefundSchema))
    invoice = fields.Nested(InvoiceSchema(exclude=("payments",)), allow_none=True)
    invoice_payment = fields.Nested(InvoicePaymentSchema, allow_none=True)


class PayoutSchema(Schema):
    id = fields.Str()
    amount = fields.Int(allow_none=True)
    currency = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    arrival_date = fields.Int(allow_none=True)
    automatic = fields.Bool(allow_none=True)
    method = fields.Str(allow_none=True)
    reconciliation_status = fields.Str(allow_none=True)
    balance_transaction = fields.Str(allow_none=True)
    created = fields.Int(allow_none=True)
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())


class PayoutTransactionsSchema(Schema):
    payout = fields.Str()
    count = fields.Int()
    data = fields.List(fields.Nested(BalanceTransactionSchema))
