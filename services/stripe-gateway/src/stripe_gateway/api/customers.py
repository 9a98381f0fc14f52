"""``POST /commands/customers/ensure``: match or create the Stripe customer of a BC customer."""

from __future__ import annotations

from flask import Blueprint

from stripe_gateway.adapters.stripe_client import metadata_of
from stripe_gateway.api import dependencies
from stripe_gateway.api import dump
from stripe_gateway.api import json_body
from stripe_gateway.api.schemas import EnsureCustomerSchema
from stripe_gateway.api.schemas import EnsuredCustomerSchema
from stripe_gateway.services.customers import ensure_customer

bp = Blueprint("customers", __name__, url_prefix="/commands/customers")


@bp.post("/ensure")
def ensure() -> tuple[dict[str, object], int]:
    """201 when the customer was created, 200 when found (and possibly updated)."""
    result = ensure_customer(dependencies().stripe, EnsureCustomerSchema().load(json_body()))
    customer = result.customer
    body = dump(
        EnsuredCustomerSchema(),
        {
            "stripe_customer_id": customer.id,
            "created": result.created,
            "updated": result.updated,
            "matched_by": result.matched_by,
            "name": getattr(customer, "name", None),
            "email": getattr(customer, "email", None),
            "metadata": metadata_of(customer),
        },
    )
    return body, 201 if result.created else 200
