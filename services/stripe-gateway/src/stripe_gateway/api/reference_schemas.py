"""Schemas of ``POST /commands/charges/<id>/bc-references`` (a person's match of a payment).

The request names the BC invoice a clerk chose and the clerk. Each field is checked like the
push's (``api.schemas.PushInvoiceSchema``) because the values meet there again: the reconciler
reads ``bc_company_id`` / ``bc_invoice_id`` from the metadata exactly as it reads the push's,
and the gateway joins them into Stripe idempotency keys, so they are opaque ids (letters, digits,
``_ . -``, at most 100); the invoice number is what BC stores (Code[20]); ``matched_by`` is a
person's name as the console shows it, at most 128 characters and not blank. All four end up as
Stripe metadata values, far under Stripe's 500 characters. Unknown fields are refused (422
``validation_failed`` naming the field), as everywhere in the command API.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate

from mlconnector import validators
from mlconnector.validators import Identifier
from mlconnector.validators import Text
from stripe_gateway.services.references import BcReferences

#: The longest ``matched_by``: a person's display name, as the console shows who matched.
MATCHED_BY_LENGTH = 128
# Something besides blank space. Anchored, because marshmallow's ``Regexp`` matches at the start
# while a JSON Schema ``pattern`` searches; U+FEFF named since only ECMA's ``\s`` includes it,
# so the published pattern and the check agree on every string.
_NOT_BLANK = r"^[\s\ufeff]*[^\s\ufeff]"


class BcReferencesSchema(Schema):
    """The BC invoice a person matched a Stripe payment to, and who did."""

    bc_company_id = fields.Str(required=True, validate=Identifier(100))
    bc_invoice_id = fields.Str(required=True, validate=Identifier(100))
    bc_invoice_number = fields.Str(
        required=True,
        validate=Text(validators.INVOICE_NUMBER, min_length=1, kind="BC Code[20]"),
    )
    matched_by = fields.Str(
        required=True,
        validate=[
            Text(MATCHED_BY_LENGTH, min_length=1, kind="a person's name"),
            validate.Regexp(_NOT_BLANK, error="Must name a person, not blank space."),
        ],
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> BcReferences:
        return BcReferences(**data)


class PaidStripeInvoiceSchema(Schema):
    """The Stripe invoice the charge paid: reported, never written (the push owns it)."""

    id = fields.Str()
    number = fields.Str(allow_none=True)
    status = fields.Str(allow_none=True)
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())


class BcReferencesWrittenSchema(Schema):
    """What the charge (and its PaymentIntent) now say, and whether this call changed it."""

    charge = fields.Str()
    payment_intent = fields.Str(allow_none=True)
    # The charge's BC references now: bc_company_id, bc_invoice_id, bc_invoice_number and
    # bc_matched_by (the person who made the match, kept from the first match).
    metadata = fields.Dict(keys=fields.Str(), values=fields.Str())
    unchanged = fields.Bool()
    invoice = fields.Nested(PaidStripeInvoiceSchema, allow_none=True)
