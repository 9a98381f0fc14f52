"""``/commands/customers/<id>``: one BC customer (number, name, email, currency)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from bc_gateway import services
from bc_gateway.api import bc_client
from bc_gateway.api import dependencies
from bc_gateway.api.schemas import CustomerSchema
from bc_gateway.api.schemas import validate_guid

bp = Blueprint("customers", __name__, url_prefix="/commands/customers")


@bp.get("/<customer_id>")
def get_customer(customer_id: str) -> dict[str, Any]:
    """The customer; a blank currency is reported as the company's LCY code."""
    customer = services.get_customer(bc_client(), dependencies().lcy, validate_guid(customer_id))
    result: dict[str, Any] = CustomerSchema().dump(customer)
    return result
