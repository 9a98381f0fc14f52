"""marshmallow schemas of the command API: request bodies in, results out.

Amounts are ``Decimal`` both ways and leave as strings (``"-100.00"``), so no JSON float ever
carries money; request bodies are parsed with ``parse_float=Decimal`` before they reach a schema.
Lengths follow BC's fields (bc-api.md §3.7): external document number Code[35], document number
Code[20], account number Code[20], description Text[100], journal batch name Code[10]. Every
string is checked for control characters and every Code value for the characters BC can store
and filter on; amounts are finite, bounded and no finer than their currency
(``mlconnector.validators`` has each limit and its source). What needs BC's state to decide (the
configured journals, the invoice's remaining amount, the local currency's decimals) is checked
by the use cases, before they write anything.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate
from marshmallow import validates_schema

from bc_gateway.general_lines import ACCOUNT_TYPES
from bc_gateway.general_lines import GeneralLine
from bc_gateway.open_amounts import CheckedLine
from bc_gateway.postings import PAYMENT
from bc_gateway.postings import REFUND
from bc_gateway.postings import CustomerLine
from bc_gateway.postings import KnownInvoice
from bc_gateway.services import INVOICE_STATUSES
from mlconnector import validators
from mlconnector.validators import Amount
from mlconnector.validators import Code
from mlconnector.validators import Currency
from mlconnector.validators import Text

_GUID = validate.Regexp(
    r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
    error="Not a BC id (GUID).",
)
_CURRENCY = validate.Regexp(r"^[A-Za-z]{3}$", error="Not a three-letter currency code.")


def _money(**kwargs: Any) -> fields.Decimal:
    return fields.Decimal(as_string=True, allow_nan=False, **kwargs)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class StrictBool(fields.Boolean):
    """JSON ``true``/``false`` only: a flag that permits more must not be set by ``"yes"``.

    ``truthy={True}`` alone is not enough: ``1 == True`` in Python, so ``1`` would pass.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def validate_guid(value: str) -> str:
    """A path id, checked like a body field (422 ``validation_failed`` when malformed)."""
    try:
        _GUID(value)
    except ValidationError as exc:
        raise ValidationError({"id": exc.messages}) from None
    return value.lower()


def validate_journal(value: str) -> str:
    """A journal name in a path: a Code[10] value, reported as the ``journal`` field."""
    try:
        validators.check_code(value, max_length=validators.JOURNAL_CODE)
    except ValidationError as exc:
        raise ValidationError({"journal": exc.messages}) from None
    return value.upper()


def _amount_error(exc: ValidationError) -> str:
    messages = exc.messages
    return str(messages[0] if isinstance(messages, list) else messages)


# -- reads ---------------------------------------------------------------------------------


class CustomerSchema(Schema):
    id = fields.Str()
    number = fields.Str()
    name = fields.Str()
    email = fields.Str()
    currency_code = fields.Str()
    blocked = fields.Str()
    last_modified = fields.AwareDateTime(allow_none=True)


class InvoiceLineSchema(Schema):
    id = fields.Str()
    sequence = fields.Int(allow_none=True)
    line_type = fields.Str()
    line_object_number = fields.Str()
    description = fields.Str()
    quantity = _money()
    unit_price = _money()
    discount_amount = _money()
    discount_percent = _money()
    amount_excluding_tax = _money()
    tax_percent = _money()
    total_tax_amount = _money()
    amount_including_tax = _money()


class InvoiceSummarySchema(Schema):
    id = fields.Str()
    number = fields.Str()
    external_document_number = fields.Str()
    status = fields.Str()
    invoice_date = fields.Date(allow_none=True)
    posting_date = fields.Date(allow_none=True)
    due_date = fields.Date(allow_none=True)
    customer_id = fields.Str()
    customer_number = fields.Str()
    customer_name = fields.Str()
    currency_code = fields.Str()
    prices_include_tax = fields.Bool()
    discount_amount = _money()
    total_amount_excluding_tax = _money()
    total_tax_amount = _money()
    total_amount_including_tax = _money()
    remaining_amount = _money()
    last_modified = fields.AwareDateTime(allow_none=True)


class InvoiceSchema(InvoiceSummarySchema):
    lines = fields.List(fields.Nested(InvoiceLineSchema))
    customer = fields.Nested(CustomerSchema)


class CreditMemoSummarySchema(Schema):
    id = fields.Str()
    number = fields.Str()
    status = fields.Str()
    posted = fields.Bool()
    posting_date = fields.Date(allow_none=True)
    customer_id = fields.Str()
    customer_number = fields.Str()
    invoice_id = fields.Str(allow_none=True)
    invoice_number = fields.Str()
    currency_code = fields.Str()
    total_amount_excluding_tax = _money()
    total_tax_amount = _money()
    total_amount_including_tax = _money()
    last_modified = fields.AwareDateTime(allow_none=True)


class CreditMemoSchema(CreditMemoSummarySchema):
    lines = fields.List(fields.Nested(InvoiceLineSchema))


class CreditMemoListSchema(Schema):
    value = fields.List(fields.Nested(CreditMemoSummarySchema))
    count = fields.Int()


class InvoiceListQuerySchema(_Strict):
    status = fields.Str(validate=validate.OneOf(INVOICE_STATUSES), load_default=None)
    modified_since = fields.AwareDateTime(load_default=None)


class InvoiceListSchema(Schema):
    value = fields.List(fields.Nested(InvoiceSummarySchema))
    count = fields.Int()


# -- customer payments and refunds ---------------------------------------------------------


class KnownInvoiceSchema(_Strict):
    """What the reconciler vouches for, so the write is the only BC call (``postings``)."""

    first_write = StrictBool(required=True, validate=validate.Equal(True))
    customer_id = fields.Str(required=True, validate=_GUID)
    invoice_number = fields.Str(required=True, validate=Code(validators.INVOICE_NUMBER))
    invoice_currency = fields.Str(required=True, validate=[_CURRENCY, Currency()])

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> KnownInvoice:
        return KnownInvoice(
            customer_id=data["customer_id"],
            invoice_number=data["invoice_number"],
            invoice_currency=data["invoice_currency"],
        )


class CustomerLineRequestSchema(_Strict):
    kind = fields.Str(validate=validate.OneOf((PAYMENT, REFUND)), load_default=PAYMENT)
    journal = fields.Str(validate=Code(validators.JOURNAL_CODE), load_default=None)
    bc_invoice_id = fields.Str(required=True, validate=_GUID)
    amount = _money(required=True, validate=Amount())
    currency = fields.Str(required=True, validate=[_CURRENCY, Currency()])
    external_document_number = fields.Str(
        required=True, validate=Code(validators.EXTERNAL_DOCUMENT_NUMBER)
    )
    posting_date = fields.Date(required=True)
    description = fields.Str(validate=Text(validators.DESCRIPTION), load_default="")
    # The reconciler flagged the payment as more than the invoice has open (see postings).
    overpayment = StrictBool(load_default=False)
    known = fields.Nested(KnownInvoiceSchema, load_default=None)

    @validates_schema
    def _sign(self, data: dict[str, Any], **_: Any) -> None:
        if data["kind"] == PAYMENT and data["amount"] >= 0:
            raise ValidationError("A payment amount must be negative (BC's sign).", "amount")
        if data["kind"] == REFUND and data["amount"] <= 0:
            raise ValidationError("A refund amount must be positive.", "amount")

    @validates_schema
    def _decimals(self, data: dict[str, Any], **_: Any) -> None:
        try:
            validators.check_currency_amount(data["amount"], data["currency"])
        except ValidationError as exc:
            raise ValidationError(_amount_error(exc), "amount") from None

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> CustomerLine:
        return CustomerLine(**data)


class CustomerLineResultSchema(Schema):
    line_id = fields.Str(allow_none=True)
    created = fields.Bool()
    already_posted = fields.Bool()
    journal = fields.Str()
    journal_id = fields.Str()
    document_number = fields.Str()
    external_document_number = fields.Str()
    invoice_number = fields.Str()
    invoice_currency = fields.Str()
    # None when the line was written on what the reconciler knew, without reading the invoice.
    invoice_remaining_amount = _money(allow_none=True)


class PostJournalQuerySchema(_Strict):
    # False: post without listing the lines first; ``posted`` is then null (0 when empty).
    report = fields.Boolean(load_default=True)


class CheckedLineSchema(_Strict):
    external_document_number = fields.Str(
        required=True, validate=Code(validators.EXTERNAL_DOCUMENT_NUMBER)
    )
    bc_invoice_id = fields.Str(required=True, validate=_GUID)
    paid = _money(required=True, validate=Amount())

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> CheckedLine:
        return CheckedLine(**data)


class PostJournalRequestSchema(_Strict):
    # Payment lines to check against their invoices' open amounts before the post.
    check = fields.List(
        fields.Nested(CheckedLineSchema), load_default=list, validate=validate.Length(max=5000)
    )


class OverpaidLineSchema(Schema):
    external_document_number = fields.Str()
    invoice_number = fields.Str()
    invoice_remaining_amount = _money()
    overpaid_by = _money()


class PostJournalResultSchema(Schema):
    journal = fields.Str()
    journal_id = fields.Str()
    overpaid = fields.List(fields.Nested(OverpaidLineSchema))
    posted = fields.Int(allow_none=True)
    line_ids = fields.List(fields.Str())
    external_document_numbers = fields.List(fields.Str())


# -- general journal lines -----------------------------------------------------------------


class GeneralLineSchema(_Strict):
    account_type = fields.Str(required=True, validate=validate.OneOf(ACCOUNT_TYPES))
    account_number = fields.Str(required=True, validate=Code(validators.ACCOUNT_NUMBER))
    amount = _money(required=True, validate=Amount())
    posting_date = fields.Date(required=True)
    document_number = fields.Str(required=True, validate=Code(validators.DOCUMENT_NUMBER))
    external_document_number = fields.Str(
        required=True, validate=Code(validators.EXTERNAL_DOCUMENT_NUMBER)
    )
    description = fields.Str(validate=Text(validators.DESCRIPTION), load_default="")
    balancing_account_type = fields.Str(validate=validate.OneOf(ACCOUNT_TYPES), load_default=None)
    balancing_account_number = fields.Str(
        validate=Code(validators.ACCOUNT_NUMBER), load_default=None
    )

    @validates_schema
    def _non_zero(self, data: dict[str, Any], **_: Any) -> None:
        if data["amount"] == 0:
            raise ValidationError("A journal line amount cannot be zero.", "amount")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> GeneralLine:
        return GeneralLine(**data)


class GeneralLinesRequestSchema(_Strict):
    """Lines of one payout; ``limit`` is the most any one line may carry (see general_lines)."""

    journal = fields.Str(validate=Code(validators.JOURNAL_CODE), load_default=None)
    # What BC books every line in; absent: the company's local currency (general_lines).
    currency = fields.Str(validate=[_CURRENCY, Currency()], load_default=None)
    limit = _money(required=True, validate=Amount())
    post = StrictBool(load_default=False)  # it posts a batch: only a JSON true or false
    lines = fields.List(
        fields.Nested(GeneralLineSchema), required=True, validate=validate.Length(min=1, max=100)
    )

    @validates_schema
    def _within_limit(self, data: dict[str, Any], **_: Any) -> None:
        limit: Decimal = data["limit"]
        if limit <= 0:
            raise ValidationError("The limit must be positive (the payout's amount).", "limit")
        over = {
            index: {"amount": [f"{line.amount} is more than the command's limit of {limit}."]}
            for index, line in enumerate(data["lines"])
            if line.amount.copy_abs() > limit
        }
        if over:
            raise ValidationError({"lines": over})


class GeneralLineResultSchema(Schema):
    document_number = fields.Str()
    external_document_number = fields.Str()
    account_number = fields.Str()
    line_id = fields.Str(allow_none=True)
    status = fields.Str()


class GeneralLinesResultSchema(Schema):
    journal = fields.Str()
    journal_id = fields.Str()
    posted = fields.Int()
    lines = fields.List(fields.Nested(GeneralLineResultSchema))


# -- local-currency values -----------------------------------------------------------------


class LcyAmountsRequestSchema(_Strict):
    """Amounts in ``currency`` as journal lines posted on ``posting_date`` would carry them."""

    currency = fields.Str(required=True, validate=[_CURRENCY, Currency()])
    posting_date = fields.Date(required=True)
    amounts = fields.List(
        _money(required=True, validate=Amount()),
        required=True,
        validate=validate.Length(min=1, max=1000),
    )


class LcyRateSchema(Schema):
    starting_date = fields.Str(allow_none=True)
    exchange_rate_amount = fields.Str()
    relational_exchange_rate_amount = fields.Str()


class LcyAmountsResultSchema(Schema):
    currency = fields.Str()
    lcy = fields.Str()
    rate = fields.Nested(LcyRateSchema, allow_none=True)
    amounts_lcy = fields.List(fields.Decimal(as_string=True))


class AccountBalanceSchema(Schema):
    number = fields.Str()
    balance = fields.Decimal(as_string=True)
    entries = fields.Int()


# -- webhook subscriptions ------------------------------------------------------------------


class SubscriptionSchema(Schema):
    """One BC webhook subscription (``subscriptions.subscription_row``); never its clientState."""

    id = fields.Str(required=True, metadata={"description": "BC's subscriptionId."})
    entity = fields.Str(
        allow_none=True,
        required=True,
        metadata={"description": "The entity set it watches, read from its resource."},
    )
    resource = fields.Str(required=True)
    notification_url = fields.Str(required=True)
    expires_at = fields.AwareDateTime(
        allow_none=True, required=True, metadata={"description": "BC's expirationDateTime."}
    )
    ours = fields.Bool(
        required=True,
        metadata={
            "description": "This gateway's notification URL (MLC_BC_NOTIFICATION_URL) on the "
            "configured company's entity set."
        },
    )
    expired = fields.Bool(required=True)
    expiring_soon = fields.Bool(
        required=True, metadata={"description": "Within the renewal margin (24 h by default)."}
    )


class SubscriptionListSchema(Schema):
    value = fields.List(fields.Nested(SubscriptionSchema), required=True)
    count = fields.Int(required=True)
    notification_url = fields.Str(
        allow_none=True,
        required=True,
        metadata={"description": "MLC_BC_NOTIFICATION_URL; null: none is ours."},
    )
    renew_margin_hours = fields.Float(required=True)
    checked_at = fields.AwareDateTime(
        required=True,
        metadata={"description": "The time expiries were judged at: BC's clock when it tells."},
    )


def validate_account(value: str) -> str:
    """A G/L account number in a path, checked like a body field."""
    try:
        validators.check_code(value, max_length=validators.ACCOUNT_NUMBER)
    except ValidationError as exc:
        raise ValidationError({"number": exc.messages}) from None
    return value.upper()
