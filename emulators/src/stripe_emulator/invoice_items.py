"""Invoice items (`/v1/invoiceitems`): pending items, or items on a draft invoice.

An item created with `invoice=in_...` must target a draft and shows up as a line at once;
without it the item is pending until an invoice is created with
`pending_invoice_items_behavior=include` (stripe-api.md §6). Items on finalized invoices are
frozen (`invoice_not_editable`).
"""

from __future__ import annotations

from flask import Blueprint
from flask import g

from . import invoice_model as model
from .currency import validate_currency
from .errors import param_invalid
from .events import emit
from .forms import Params
from .lines import build_item
from .lines import sync_line
from .lines import update_item
from .listing import common_list_params
from .listing import expand_paths
from .listing import paginate
from .listing import range_filter
from .render import render
from .render import render_many
from .state import EmulatorState
from .state import get_state
from .store import Record

bp = Blueprint("invoice_items", __name__, url_prefix="/v1/invoiceitems")

_CREATE_PARAMS_NAMES = """
amount currency customer customer_account description discountable discounts expand
invoice metadata period price_data pricing quantity quantity_decimal subscription
tax_behavior tax_code tax_rates unit_amount_decimal
"""
CREATE_PARAMS = _CREATE_PARAMS_NAMES.split()
_UPDATE_PARAMS_NAMES = """
amount description discountable discounts expand invoicing_rules metadata period
price_data pricing quantity quantity_decimal tax_behavior tax_code tax_rates
unit_amount_decimal
"""
UPDATE_PARAMS = _UPDATE_PARAMS_NAMES.split()


def _editable_invoice(state: EmulatorState, item: Record) -> Record | None:
    if item["invoice"] is None:
        return None
    invoice = state.store.require("invoice", item["invoice"], "invoice")
    model.require_draft(invoice)
    return invoice


@bp.post("")
def create_item() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(CREATE_PARAMS)
    customer = state.store.require(
        "customer", params.string("customer", required=True) or "", "customer"
    )
    invoice_id = params.string("invoice")
    invoice = state.store.require("invoice", invoice_id, "invoice") if invoice_id else None
    if invoice is not None:
        model.require_draft(invoice)
        if invoice["customer"] != customer["id"]:
            raise param_invalid("invoice", "The invoice belongs to a different customer.")
    price_currency = (params.sub("price_data") or Params({})).string("currency")
    raw = params.string("currency") or price_currency
    if invoice is not None:
        currency = invoice["currency"]
    elif raw is not None:
        currency = validate_currency(raw)
    else:
        currency = customer["currency"] or state.config.default_currency
    item = build_item(state, params, customer=customer["id"], currency=currency, invoice=invoice_id)
    if invoice is not None:
        invoice["_line_ids"].append(sync_line(state, item)["id"])
        model.recompute(state, invoice)
    emit(state, "invoiceitem.created", item)
    return render(state, item, expand_paths(params))


@bp.get("")
def list_items() -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(
        (*common_list_params(), "customer", "customer_account", "invoice", "pending")
    )
    customer, invoice = params.string("customer"), params.string("invoice")
    pending = params.boolean("pending")
    created = range_filter(params, "created")
    records = [
        r
        for r in state.store.all("invoiceitem")
        if not r.get("deleted")
        and created(r["date"])
        and (customer is None or r["customer"] == customer)
        and (invoice is None or r["invoice"] == invoice)
        and (pending is None or (r["invoice"] is None) == pending)
    ]
    return paginate(
        state.store,
        "invoiceitem",
        records,
        params,
        "/v1/invoiceitems",
        render_many(state, expand_paths(params)),
    )


@bp.get("/<item_id>")
def retrieve_item(item_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(("expand",))
    item = state.store.require("invoiceitem", item_id, "invoiceitem")
    return render(state, item, expand_paths(params))


@bp.post("/<item_id>")
def update_item_route(item_id: str) -> Record:
    state, params = get_state(), Params(g.params)
    params.check_known(UPDATE_PARAMS)
    item = state.store.require("invoiceitem", item_id, "invoiceitem")
    invoice = _editable_invoice(state, item)
    update_item(state, item, params)
    if invoice is not None:
        sync_line(state, item)
        model.recompute(state, invoice)
    return render(state, item, expand_paths(params))


@bp.delete("/<item_id>")
def delete_item(item_id: str) -> Record:
    state = get_state()
    item = state.store.require("invoiceitem", item_id, "invoiceitem")
    invoice = _editable_invoice(state, item)
    if invoice is not None and item["_line"] in invoice["_line_ids"]:
        invoice["_line_ids"].remove(item["_line"])
        state.store.remove("line_item", item["_line"])
        model.recompute(state, invoice)
    item["deleted"] = True
    emit(state, "invoiceitem.deleted", item)
    return {"id": item_id, "object": "invoiceitem", "deleted": True}
