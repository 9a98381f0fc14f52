"""``GET /commands/charges/<id>``: a charge with its refunds, balance transaction and invoice."""

from __future__ import annotations

from flask import Blueprint

from stripe_gateway.api import dependencies
from stripe_gateway.api import dump
from stripe_gateway.api.schemas import ChargeSchema
from stripe_gateway.services.reads import read_charge

bp = Blueprint("charges", __name__, url_prefix="/commands/charges")


@bp.get("/<charge_id>")
def read(charge_id: str) -> dict[str, object]:
    return dump(ChargeSchema(), read_charge(dependencies().stripe, charge_id))
