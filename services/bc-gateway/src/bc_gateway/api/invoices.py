"""``/commands/invoices``: a sales invoice with lines and customer, and filtered invoice lists."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import request

from bc_gateway import services
from bc_gateway.api import bc_client
from bc_gateway.api import dependencies
from bc_gateway.api.schemas import InvoiceListQuerySchema
from bc_gateway.api.schemas import InvoiceListSchema
from bc_gateway.api.schemas import InvoiceSchema
from bc_gateway.api.schemas import validate_guid

bp = Blueprint("invoices", __name__, url_prefix="/commands/invoices")


@bp.get("/<invoice_id>")
def get_invoice(invoice_id: str) -> dict[str, Any]:
    """One invoice: header, lines (by sequence) and customer; amounts as Decimal strings."""
    invoice = services.get_invoice(bc_client(), dependencies().lcy, validate_guid(invoice_id))
    result: dict[str, Any] = InvoiceSchema().dump(invoice)
    return result


@bp.get("")
def list_invoices() -> dict[str, Any]:
    """``?status=Open&modified_since=<ISO 8601>``: every matching invoice, all pages."""
    query = InvoiceListQuerySchema().load(request.args.to_dict())
    invoices = services.list_invoices(bc_client(), dependencies().lcy, **query)
    result: dict[str, Any] = InvoiceListSchema().dump({"value": invoices, "count": len(invoices)})
    return result
