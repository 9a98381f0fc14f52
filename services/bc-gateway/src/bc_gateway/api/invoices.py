"""``/commands/invoices``: a sales invoice with lines and customer, filtered invoice lists, and
the open invoices an unmatched payment may pay (``/open``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import request

from bc_gateway import open_invoice_search
from bc_gateway import services
from bc_gateway.api import bc_client
from bc_gateway.api import dependencies
from bc_gateway.api.open_invoice_schemas import OpenInvoiceListSchema
from bc_gateway.api.open_invoice_schemas import OpenInvoicesQuerySchema
from bc_gateway.api.schemas import InvoiceListQuerySchema
from bc_gateway.api.schemas import InvoiceListSchema
from bc_gateway.api.schemas import InvoiceSchema
from bc_gateway.api.schemas import validate_guid

bp = Blueprint("invoices", __name__, url_prefix="/commands/invoices")


@bp.get("/open")
def open_invoices() -> dict[str, Any]:
    """``?q=&customerEmail=&currency=&amount=&top=``: Open invoices by due date, at most ``top``.

    A static segment, so werkzeug matches it before ``/<invoice_id>`` (not a GUID anyway).
    """
    query = OpenInvoicesQuerySchema().load(request.args.to_dict())
    found = open_invoice_search.search(bc_client(), dependencies().lcy, query)
    result: dict[str, Any] = OpenInvoiceListSchema().dump(found)
    return result


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
