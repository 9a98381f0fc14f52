"""Request and response schemas of the command API (marshmallow 4).

Requests are strict: unknown fields, floats or strings where minor units are expected, unknown
currencies and metadata Stripe would refuse (more than 50 keys, keys over 40 characters or with
square brackets, values over 500 characters) all fail with 422 ``validation_failed`` before any
Stripe call. Every string is also checked for control characters and for a length that fits
where it goes (``mlconnector.validators`` has each limit and its source): BC numbers are at most
Code[20], a BC customer name Text[100], ids the gateway joins into idempotency keys and search
queries (``mlc:{company}:{invoice}:step``) letters, digits and ``_ . -`` only, Stripe ids their
own prefix and alphabet. Ids in paths are checked the same way (``stripe_path_id``). Loaded
requests become the services' command dataclasses. Response schemas list exactly what the
gateway promises to return, so a field added to a Stripe object does not leak into the contract
by accident.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate
from marshmallow import validates
from marshmallow import validates_schema

from mlconnector import money
from mlconnector import validators
from mlconnector.validators import Identifier
from mlconnector.validators import Metadata
from mlconnector.validators import StripeId
from mlconnector.validators import Text
from stripe_gateway.services.credit_note_lines import CreditLine
from stripe_gateway.services.customers import EnsureCustomer
from stripe_gateway.services.invoices import InvoiceLine
from stripe_gateway.services.invoices import PushInvoice

MAX_AMOUNT_MINOR = validators.MAX_MINOR_AMOUNT
_ID = Identifier(100)
# What BC sends as a number (customer, invoice): Code[20]; any character BC can store.
_BC_NUMBER = Text(validators.CUSTOMER_NUMBER, min_length=1, kind="BC Code[20]")
_CUSTOMER_ID = StripeId("cus")
_OUR_METADATA_KEYS = 4  # bc_company_id, bc_invoice_id, bc_invoice_number, bc_customer_number
# Stripe's limit on a description (an invoice line's, say), as for a metadata value.
_DESCRIPTION = Text(500, min_length=1, kind="a Stripe description")
_EMAIL_LENGTH = 512  # stripe-api.md §4, customer e-mail

CHARGE_PREFIXES = ("ch", "py")  # card charges and the ``py_`` charges of other payment methods
INVOICE_PREFIXES = ("in",)
PAYOUT_PREFIXES = ("po",)
DISPUTE_PREFIXES = ("du", "dp")  # ``dp_`` ids are older disputes still readable


def stripe_path_id(value: str, *, field: str, prefixes: Collection[str]) -> str:
    """An id in a path, checked like a body field (422 ``validation_failed`` naming it)."""
    try:
        return validators.check_stripe_id(value, prefixes)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


class MinorUnits(fields.Integer):
    """An integer count of minor units: JSON integers only (no floats, strings or booleans)."""

    def __init__(self, *, minimum: int = -MAX_AMOUNT_MINOR, **kwargs: Any) -> None:
        super().__init__(
            strict=True,
            validate=validate.Range(min=minimum, max=MAX_AMOUNT_MINOR),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


def metadata_field(max_keys: int = validators.METADATA_MAX_KEYS) -> fields.Dict:
    return fields.Dict(
        keys=fields.Str(),
        values=fields.Str(),
        load_default=dict,
        validate=Metadata(max_keys),
    )


class EnsureCustomerSchema(Schema):
    bc_company_id = fields.Str(required=True, validate=_ID)
    bc_customer_id = fields.Str(required=True, validate=_ID)
    bc_customer_number = fields.Str(required=True, validate=_BC_NUMBER)
    name = fields.Str(
        required=True, validate=Text(validators.NAME, min_length=1, kind="BC Text[100]")
    )
    email = fields.Email(
        load_default=None, allow_none=True, validate=Text(_EMAIL_LENGTH, kind="Stripe's e-mail")
    )
    link_hint = fields.Str(load_default=None, allow_none=True, validate=_CUSTOMER_ID)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> EnsureCustomer:
        return EnsureCustomer(**data)


class InvoiceLineSchema(Schema):
    description = fields.Str(required=True, validate=_DESCRIPTION)
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
    bc_invoice_number = fields.Str(required=True, validate=_BC_NUMBER)
    bc_customer_number = fields.Str(required=True, validate=_BC_NUMBER)
    stripe_customer_id = fields.Str(required=True, validate=_CUSTOMER_ID)
    currency = fields.Str(required=True)
    days_until_due = fields.Int(strict=True, required=True, validate=validate.Range(0, 3650))
    metadata = metadata_field(validators.METADATA_MAX_KEYS - _OUR_METADATA_KEYS)
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


class FindByBcQuerySchema(Schema):
    """``GET /commands/invoices/by-bc``: the BC ids, and the Stripe customer when it is known."""

    bc_company_id = fields.Str(required=True, validate=_ID)
    bc_invoice_id = fields.Str(required=True, validate=_ID)
    stripe_customer_id = fields.Str(load_default=None, validate=_CUSTOMER_ID)


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


_KEY = validate.Regexp(r"^[A-Za-z0-9:_\-]{1,200}$", error="Not a key: letters, digits, :_-.")


# A positive BC quantity as a decimal string (BC keeps up to 5 decimals; Stripe's own decimal
# fields take up to 12).
_BC_QUANTITY = validate.Regexp(
    r"^[0-9]{1,12}(\.[0-9]{1,12})?$", error="Not a positive decimal quantity string."
)


class CreditLineSchema(Schema):
    """One credited line of a BC credit memo (``credit_note_lines.CreditLine``)."""

    description = fields.Str(required=True, validate=_DESCRIPTION)
    amount_minor = MinorUnits(required=True, minimum=1)
    sequence = fields.Int(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(min=0)
    )
    bc_invoice_line_id = fields.Str(load_default=None, allow_none=True, validate=_ID)
    invoice_tax = fields.Bool(load_default=False)
    bc_quantity = fields.Str(load_default=None, allow_none=True, validate=_BC_QUANTITY)
    bc_invoice_quantity = fields.Str(load_default=None, allow_none=True, validate=_BC_QUANTITY)

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if data["invoice_tax"] and data["bc_invoice_line_id"]:
            raise ValidationError("A tax line credits no BC invoice line.", "invoice_tax")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> CreditLine:
        quantities = {
            name: Decimal(data[name]) if data[name] is not None else None
            for name in ("bc_quantity", "bc_invoice_quantity")
        }
        return CreditLine(**{**data, **quantities})


class CreditInvoiceSchema(Schema):
    """A credit note for a BC credit memo (``invoice_changes.credit_invoice``); with ``lines``,
    one credit note line per credited memo line, summing to ``amount_minor`` exactly."""

    key = fields.Str(required=True, validate=_KEY)
    amount_minor = MinorUnits(required=True, minimum=1)
    memo = fields.Str(load_default="", validate=validate.Length(max=5000))
    bc_credit_memo_id = fields.Str(required=True, validate=_ID)
    bc_credit_memo_number = fields.Str(required=True, validate=_BC_NUMBER)
    bc_invoice_id = fields.Str(required=True, validate=_ID)
    after_payment = fields.Str(
        load_default="customer_balance",
        validate=validate.OneOf(("customer_balance", "out_of_band")),
    )
    lines = fields.List(
        fields.Nested(CreditLineSchema), load_default=list, validate=validate.Length(max=250)
    )

    @validates_schema
    def _lines_sum(self, data: dict[str, Any], **_: Any) -> None:
        lines = data.get("lines") or []
        total = sum(line.amount_minor for line in lines)
        if lines and total != data["amount_minor"]:
            raise ValidationError(
                f"The lines add up to {total}, not to amount_minor ({data['amount_minor']}).",
                "lines",
            )


class PaidElsewhereSchema(Schema):
    """Money the client paid outside Stripe (``invoice_changes.pay_elsewhere``)."""

    key = fields.Str(required=True, validate=_KEY)
    amount_minor = MinorUnits(required=True, minimum=1)
    reference = fields.Str(required=True, validate=validate.Length(1, 100))


class CreditNoteLineSchema(Schema):
    """A credit note line as the reconciler records it."""

    type = fields.Str(allow_none=True)
    invoice_line_item = fields.Str(allow_none=True)
    quantity = fields.Int(allow_none=True)
    amount = fields.Int(allow_none=True)
    description = fields.Str(allow_none=True)
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())


class CreditNoteSchema(Schema):
    id = fields.Str()
    number = fields.Str(allow_none=True)
    amount = fields.Int(allow_none=True)
    type = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    pre_payment_amount = fields.Int(allow_none=True)
    post_payment_amount = fields.Int(allow_none=True)
    out_of_band_amount = fields.Int(allow_none=True)
    created_now = fields.Bool()
    lines = fields.List(fields.Nested(CreditNoteLineSchema))
    lines_complete = fields.Bool()  # False: the credit note has more lines than listed here
    amount_only_why = fields.Str(allow_none=True)


class InvoiceChangeSchema(Schema):
    """The invoice after a change, and what the change was."""

    invoice = fields.Nested(lambda: InvoiceSchema(exclude=("payments",)))
    credit_note = fields.Nested(CreditNoteSchema, allow_none=True)
    how = fields.Str(allow_none=True)


class InvoiceSchema(Schema):
    id = fields.Str()
    number = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    currency = fields.Str(allow_none=True)
    customer = fields.Str(allow_none=True)
    customer_email = fields.Str(allow_none=True)
    customer_name = fields.Str(allow_none=True)
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


class FoundInvoiceSchema(Schema):
    invoice = fields.Nested(InvoiceSchema(exclude=("payments",)), allow_none=True)
    matched_by = fields.Str(validate=validate.OneOf(("customer", "search")))
    candidates = fields.Int()


class DeletedDraftSchema(Schema):
    id = fields.Str()
    deleted = fields.Bool()
    deleted_now = fields.Bool()


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
    # Set when Stripe converted the amount: amount in A x exchange_rate = amount in B.
    exchange_rate = fields.Decimal(as_string=True, allow_none=True)
    fee_details = fields.List(fields.Nested(FeeDetailSchema))


class RefundSchema(Schema):
    id = fields.Str()
    amount = fields.Int(allow_none=True)
    currency = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    reason = fields.Str(allow_none=True)
    created = fields.Int(allow_none=True)
    balance_transaction = fields.Str(allow_none=True)
    # The refund's balance transaction: what left the Stripe balance, in the settled currency.
    settlement = fields.Nested(BalanceTransactionSchema, allow_none=True)
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
    description = fields.Str(allow_none=True)
    statement_descriptor = fields.Str(allow_none=True)
    receipt_email = fields.Str(allow_none=True)
    billing_details = fields.Dict(keys=fields.Str(), values=fields.Str(allow_none=True))
    balance_transaction = fields.Nested(BalanceTransactionSchema, allow_none=True)
    refunds = fields.List(fields.Nested(RefundSchema))
    invoice = fields.Nested(InvoiceSchema(exclude=("payments",)), allow_none=True)
    invoice_payment = fields.Nested(InvoicePaymentSchema, allow_none=True)


class ChargeInvoicePaymentSchema(Schema):
    charge = fields.Str()
    payment_intent = fields.Str()
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
    failure_code = fields.Str(allow_none=True)
    failure_message = fields.Str(allow_none=True)
    balance_transaction = fields.Str(allow_none=True)
    created = fields.Int(allow_none=True)
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())


class DisputeSchema(Schema):
    id = fields.Str()
    amount = fields.Int(allow_none=True)
    currency = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    reason = fields.Str(allow_none=True)
    charge = fields.Str(allow_none=True)
    payment_intent = fields.Str(allow_none=True)
    created = fields.Int(allow_none=True)
    evidence_due_by = fields.Int(allow_none=True)
    is_charge_refundable = fields.Bool(allow_none=True)
    balance_transactions = fields.List(fields.Nested(BalanceTransactionSchema))
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())


class PayoutTransactionsSchema(Schema):
    payout = fields.Str()
    count = fields.Int()
    data = fields.List(fields.Nested(BalanceTransactionSchema))


class BalanceSchema(Schema):
    """Minor units per lower-case currency."""

    available = fields.Dict(keys=fields.Str(), values=fields.Int())
    pending = fields.Dict(keys=fields.Str(), values=fields.Int())


class TransactionListSchema(Schema):
    created_gte = fields.Int()
    count = fields.Int()
    data = fields.List(fields.Nested(BalanceTransactionSchema))


class PayoutListSchema(Schema):
    created_gte = fields.Int()
    count = fields.Int()
    data = fields.List(fields.Nested(PayoutSchema))
