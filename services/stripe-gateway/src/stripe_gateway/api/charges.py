"""Charges read from Stripe for the reconciler, and the one thing written on them.

- ``GET /commands/charges/<id>``: a charge with its refunds, balance transaction and invoice
  (two Stripe calls);
- ``GET /commands/charges/<id>/invoice-payment?payment_intent=pi_…``: the invoice the charge
  paid, in one Stripe call, for a caller that knows the charge's PaymentIntent
  (``reads.read_charge_invoice_payment``);
- ``POST /commands/charges/<id>/bc-references``: a person's match of the payment to a BC
  invoice, written into the metadata of the charge and its PaymentIntent
  (``references.set_bc_references``; 409 ``already_matched`` rather than overwrite a match).
"""

from __future__ import annotations

from flask import Blueprint
from flask import request

from stripe_gateway.api import dependencies
from stripe_gateway.api import dump
from stripe_gateway.api import json_body
from stripe_gateway.api.reference_schemas import BcReferencesSchema
from stripe_gateway.api.reference_schemas import BcReferencesWrittenSchema
from stripe_gateway.api.schemas import CHARGE_PREFIXES
from stripe_gateway.api.schemas import ChargeInvoicePaymentSchema
from stripe_gateway.api.schemas import ChargeSchema
from stripe_gateway.api.schemas import stripe_path_id
from stripe_gateway.services import references
from stripe_gateway.services.reads import read_charge
from stripe_gateway.services.reads import read_charge_invoice_payment

bp = Blueprint("charges", __name__, url_prefix="/commands/charges")


@bp.get("/<charge_id>")
def read(charge_id: str) -> dict[str, object]:
    charge_id = stripe_path_id(charge_id, field="charge_id", prefixes=CHARGE_PREFIXES)
    return dump(ChargeSchema(), read_charge(dependencies().stripe, charge_id))


@bp.get("/<charge_id>/invoice-payment")
def invoice_payment(charge_id: str) -> dict[str, object]:
    charge_id = stripe_path_id(charge_id, field="charge_id", prefixes=CHARGE_PREFIXES)
    intent = stripe_path_id(
        request.args.get("payment_intent", ""), field="payment_intent", prefixes=("pi",)
    )
    found = read_charge_invoice_payment(dependencies().stripe, charge_id, intent)
    return dump(ChargeInvoicePaymentSchema(), found)


@bp.post("/<charge_id>/bc-references")
def bc_references(charge_id: str) -> dict[str, object]:
    """Write the BC invoice a person chose into the payment's metadata, so a replay (and every
    later event of the payment) matches it; 200 with what the charge says now."""
    charge_id = stripe_path_id(charge_id, field="charge_id", prefixes=CHARGE_PREFIXES)
    command = BcReferencesSchema().load(json_body())
    written = references.set_bc_references(dependencies().stripe, charge_id, command)
    return dump(BcReferencesWrittenSchema(), written)
