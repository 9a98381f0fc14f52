"""marshmallow schemas of ``GET /commands/invoices/open``: the search in, the rows out.

Every criterion becomes part of a BC ``$filter`` (``open_invoice_search``), so each is bounded
and checked before BC sees it, with a 422 ``validation_failed`` naming the parameter:

- ``q`` is at most a customer name long (Text[100]) and holds none of the characters BC's filter
  language gives a meaning (``& | < > = * ? @ ' ( )`` and ``..``, AL ``SETFILTER``): the name
  search is a wildcard filter in BC, where such a character would change the question rather
  than be looked for (the same rule as ``mlconnector.validators`` applies to Code values);
- ``customerEmail`` is an address that fits BC's ``email`` field (Text[80]);
- ``currency`` is an ISO code the connector knows (``mlconnector.money``), in any case;
- ``amount`` is a positive decimal with no more decimals than ``currency`` has (or than any
  currency has, without one);
- ``top`` is 1 to 50.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate
from marshmallow import validates_schema

from bc_gateway.open_invoice_search import DEFAULT_TOP
from bc_gateway.open_invoice_search import MAX_TOP
from bc_gateway.open_invoice_search import OpenInvoiceQuery
from mlconnector import validators
from mlconnector.validators import Amount
from mlconnector.validators import Currency
from mlconnector.validators import Text

#: BC's ``email`` field on a sales invoice ("Sell-to E-Mail", bc-api.md §4.5 [SPEC] lengths).
EMAIL_LENGTH = 80
_RESERVED = "&|<>=*?@'()"
# No reserved character and no two dots in a row; written without look-arounds, so that the
# same pattern serves marshmallow and the OpenAPI description (ECMA-262) alike.
_Q_PATTERN = rf"^[^{_RESERVED}.]*(?:\.[^{_RESERVED}.]+)*\.?$"
_CURRENCY = validate.Regexp(r"^[A-Za-z]{3}$", error="Not a three-letter currency code.")


def _money(**kwargs: Any) -> fields.Decimal:
    return fields.Decimal(as_string=True, allow_nan=False, **kwargs)


class OpenInvoicesQuerySchema(Schema):
    """The query string; unknown parameters are refused, so a misspelt one is not ignored."""

    class Meta:
        unknown = RAISE

    q = fields.Str(
        load_default=None,
        validate=[
            Text(validators.NAME, min_length=1, kind="a customer name, Text[100]"),
            validate.Regexp(
                _Q_PATTERN,
                error=(
                    "Must not contain & | < > = * ? @ ' ( ) or '..': BC's filter language "
                    "reserves them. Search with a part of the name without them."
                ),
            ),
        ],
    )
    customer_email = fields.Email(
        data_key="customerEmail",
        load_default=None,
        validate=Text(EMAIL_LENGTH, kind=f"BC's e-mail field, Text[{EMAIL_LENGTH}]"),
    )
    currency = fields.Str(load_default=None, validate=[_CURRENCY, Currency()])
    amount = _money(load_default=None, validate=Amount())
    top = fields.Int(
        load_default=DEFAULT_TOP, strict=False, validate=validate.Range(min=1, max=MAX_TOP)
    )

    @validates_schema
    def _blank_q(self, data: dict[str, Any], **_: Any) -> None:
        q = data.get("q")
        if q is not None and not q.strip():
            raise ValidationError("Must not be blank.", "q")

    @validates_schema
    def _amount(self, data: dict[str, Any], **_: Any) -> None:
        value = data.get("amount")
        if value is None:
            return
        if value <= 0:
            raise ValidationError(
                f"{value} is not positive; give the remaining amount to look for.", "amount"
            )
        currency = data.get("currency")
        if currency is not None:
            try:
                validators.check_currency_amount(value, currency)
            except ValidationError as exc:
                messages = exc.messages
                reason = messages[0] if isinstance(messages, list) else messages
                raise ValidationError(str(reason), "amount") from None

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> OpenInvoiceQuery:
        q, currency = data["q"], data["currency"]
        return OpenInvoiceQuery(
            q=q.strip() if q is not None else None,
            customer_email=data["customer_email"],
            currency=currency.upper() if currency is not None else None,
            amount=data["amount"],
            top=data["top"],
        )


class OpenInvoiceSchema(Schema):
    """One open invoice; amounts are exact decimal strings in ``currency`` (ISO, never blank)."""

    id = fields.Str()
    number = fields.Str()
    customer_number = fields.Str()
    customer_name = fields.Str()
    customer_email = fields.Str()
    currency = fields.Str()
    total_amount = _money()
    remaining_amount = _money()
    invoice_date = fields.Date(allow_none=True)
    due_date = fields.Date(allow_none=True)


class OpenInvoiceListSchema(Schema):
    """The matches by due date; ``more``: the answer may leave matches out (see the search)."""

    value = fields.List(fields.Nested(OpenInvoiceSchema))
    count = fields.Int()
    more = fields.Bool()
