"""``GET /commands/charges/<id>``: a charge with its refunds, balance transaction and invoice."""

from __future__ import annotations

from flask import Blueprint

from stripe_gateway.api import dependencies
from stripe_gateway.api import dump
from stripe_gateway.api.schemas import CHARGE_PREFIXES
from stripe_gateway.api.schemas import ChargeSchema
from stripe_gateway.api.schemas import stripe_path_id
from stripe_gateway.services.reads import read_charge

bp = Blueprint("charges", __name__, url_prefix="/commands/charges")


@bp.get("/<charge_id>")
def read(charge_id: str) -> dict[str, object]:
    charge_id = stripe_path_id(charge_id, field="charge_id", prefixes=CHARGE_PREFIXES)
    return dump(ChargeSchema(), read_charge(dependencies().stripe, charge_id))
